package pull_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pull"
	"github.com/evidencerelay/epack/remote"
)

// An adapter with no pin in epack.lock.yaml does not run for a pull unless
// the caller opts in: refused with the lockfile code before any adapter call,
// and nothing is written. The same project pulls fine with the opt-in, so
// the refusal can only come from the missing pin.
func TestPullRefusesUnpinnedAdapter(t *testing.T) {
	t.Setenv(remote.EnvAllowUnpinned, "")
	e := newEnv(t, "")
	before := len(e2e.ReadLog(t, e.state))
	out := filepath.Join(t.TempDir(), "out.epack")
	o := opts(out)
	o.Unsafe.AllowUnpinned = false
	_, err := pull.Pull(context.Background(), o)
	if !errcode.Has(err, errcode.LockfileInvalid) || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("unpinned pull: %v, want %s naming the missing pin", err, errcode.LockfileInvalid)
	}
	if n := len(e2e.ReadLog(t, e.state)); n != before {
		t.Fatalf("the unpinned adapter was called %d time(s)", n-before)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Fatalf("output written by a refused pull: %v", err)
	}
	o.Unsafe.AllowUnpinned = true
	if _, err := pull.Pull(context.Background(), o); err != nil {
		t.Fatalf("same project with the opt-in: %v", err)
	}
}
