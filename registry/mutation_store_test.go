package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// runawayCalls is how many calls on one key faultStore answers as asked
// before it fails them outright: a retry loop that never gives up ends,
// and the test sees the count.
const runawayCalls = 10000

// faultStore is a filesystem store whose writes can be made to fail or to
// lose every compare-and-swap race on chosen keys; it counts the calls.
type faultStore struct {
	*fsstore.Store
	// conflict: CompareAndSwap on the key always loses (ErrConflict).
	conflict func(key string) bool
	// exists: CreateIfAbsent on the key finds it there (ErrExists), while
	// Get still answers from the store.
	exists func(key string) bool
	// fail: a write (CreateIfAbsent, CreateSealed, CompareAndSwap, Put)
	// of the key fails with this error.
	fail func(key string) error

	mu    sync.Mutex
	calls map[string]int // "<op> <key>" → calls
}

func newFaultStore(t *testing.T) *faultStore {
	t.Helper()
	s, err := fsstore.New(filepath.Join(t.TempDir(), "reg"))
	if err != nil {
		t.Fatal(err)
	}
	return &faultStore{Store: s, calls: map[string]int{}}
}

func (f *faultStore) count(op, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op+" "+key]++
	return f.calls[op+" "+key]
}

// callsTo sums the calls of op on keys matching match.
func (f *faultStore) callsTo(op string, match func(key string) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, c := range f.calls {
		o, key, _ := strings.Cut(k, " ")
		if o == op && match(key) {
			n += c
		}
	}
	return n
}

var errRunaway = errors.New("faultStore: runaway retries")

func (f *faultStore) failed(key string) error {
	if f.fail != nil {
		return f.fail(key)
	}
	return nil
}

func (f *faultStore) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	n := f.count("cas", key)
	if err := f.failed(key); err != nil {
		return "", err
	}
	if f.conflict != nil && f.conflict(key) {
		if n > runawayCalls {
			return "", errRunaway
		}
		return "", registry.ErrConflict
	}
	return f.Store.CompareAndSwap(ctx, key, etag, data)
}

func (f *faultStore) CreateIfAbsent(ctx context.Context, key string, data []byte) error {
	n := f.count("create", key)
	if err := f.failed(key); err != nil {
		return err
	}
	if f.exists != nil && f.exists(key) {
		if n > runawayCalls {
			return errRunaway
		}
		return registry.ErrExists
	}
	return f.Store.CreateIfAbsent(ctx, key, data)
}

func (f *faultStore) CreateSealed(ctx context.Context, key string, data []byte, until time.Time) error {
	f.count("sealed", key)
	if err := f.failed(key); err != nil {
		return err
	}
	return f.Store.CreateSealed(ctx, key, data, until)
}

// faultReg is a registry over f with a fixed clock.
func faultReg(f *faultStore) *registry.Registry {
	return registry.New(f, registry.Options{Name: "fault", PresignExpiry: time.Minute})
}

var faultTarget = protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/evidence"}

// faultEnv lets registrytest helpers push through reg.
func faultEnv(f *faultStore, reg *registry.Registry) *registrytest.Env {
	return &registrytest.Env{A: reg, Store: f, FileRoot: f.Root()}
}

// isRecordKey: a release record of the log (releases/…), not an index.
func isRecordKey(key string) bool { return strings.HasPrefix(key, "releases/") }

// isCurrentKey: the current copy of a release.
func isCurrentKey(key string) bool { return strings.Contains(key, "/current/") }

// A release record that cannot be written fails the push (the head has
// moved: the stream's next push writes it), and says which record.
func TestPushFailsWhenTheRecordCannotBeWritten(t *testing.T) {
	f := newFaultStore(t)
	boom := errors.New("disk on fire")
	f.fail = func(key string) error {
		if isRecordKey(key) {
			return boom
		}
		return nil
	}
	reg := faultReg(f)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "record-fails")
	_, err := registrytest.PushWith(t, faultEnv(f, reg), faultTarget, p, protocol.ReleaseInfo{})
	if err == nil || !errors.Is(err, boom) || !strings.Contains(err.Error(), "writing release record") {
		t.Fatalf("push with an unwritable record: %v", err)
	}
	if n := f.callsTo("sealed", isRecordKey); n != 1 {
		t.Fatalf("%d attempts to write the record, want 1", n)
	}
	// Once the store works again, the next push writes it (settleHead).
	f.fail = nil
	fin, err := registrytest.PushWith(t, faultEnv(f, reg), faultTarget, p, protocol.ReleaseInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if fin.Release.Log == nil || fin.Release.Log.Sequence != 2 {
		t.Fatalf("the next push is not the log's second record: %+v", fin.Release.Log)
	}
}

// Moving a release's current copy gives up after casAttempts lost races,
// with a conflict the host may retry, and never loops for good.
func TestAdvanceCurrentGivesUp(t *testing.T) {
	f := newFaultStore(t)
	f.conflict = isCurrentKey
	reg := faultReg(f)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "current-contended")
	_, err := registrytest.PushWith(t, faultEnv(f, reg), faultTarget, p, protocol.ReleaseInfo{})
	if registry.CodeOf(err) != protocol.CodeConflict || !strings.Contains(err.Error(), "too much contention updating release") {
		t.Fatalf("push whose current copy always loses: %v", err)
	}
	if n := f.callsTo("cas", isCurrentKey); n != 200 {
		t.Fatalf("%d compare-and-swaps of the current copy, want 200 (casAttempts)", n)
	}
}

// Recording a fetch tries four fresh keys when each is taken, then fails
// with a conflict (it never loops for good).
func TestPullFinalizeGivesUpOnTakenKeys(t *testing.T) {
	f := newFaultStore(t)
	reg := faultReg(f)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "pull-taken")
	if _, err := registrytest.PushWith(t, faultEnv(f, reg), faultTarget, p, protocol.ReleaseInfo{}); err != nil {
		t.Fatal(err)
	}
	tries := 0
	f.exists = func(key string) bool {
		if !strings.HasPrefix(key, "pulls/") {
			return false
		}
		tries++
		return tries <= runawayCalls
	}
	_, err := reg.PullFinalize(context.Background(), &protocol.PullFinalizeRequest{Target: faultTarget, Digest: p.FileDigest})
	if registry.CodeOf(err) != protocol.CodeConflict || !strings.Contains(err.Error(), "recording the fetch") {
		t.Fatalf("pull.finalize with every key taken: %v", err)
	}
	if tries != 4 {
		t.Fatalf("%d keys tried, want 4", tries)
	}
}
