package registrytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"github.com/evidencerelay/epack/registry"
)

// Tamper changes a registry's backing store behind the registry's back;
// nil fields mean Store.Put and Store.Delete.
type Tamper struct {
	Overwrite func(t testing.TB, key string, data []byte)
	Remove    func(t testing.TB, key string)
}

func (tp Tamper) overwrite(t testing.TB, s registry.Store, key string, data []byte) {
	t.Helper()
	if tp.Overwrite != nil {
		tp.Overwrite(t, key, data)
		return
	}
	if err := s.Put(ctxT(t), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("overwriting %s: %v", key, err)
	}
}

func (tp Tamper) remove(t testing.TB, s registry.Store, key string) {
	t.Helper()
	if tp.Remove != nil {
		tp.Remove(t, key)
		return
	}
	if err := s.Delete(ctxT(t), key); err != nil {
		t.Fatalf("removing %s: %v", key, err)
	}
}

// problemsOf returns the problems of an `epack log verify --json` answer.
func problemsOf(r CLIResult) []registry.Problem {
	var out struct {
		Problems []registry.Problem `json:"problems"`
	}
	json.Unmarshal([]byte(r.Stdout), &out)
	return out.Problems
}

func hasProblem(ps []registry.Problem, kind, id string) bool {
	return slices.ContainsFunc(ps, func(p registry.Problem) bool { return p.Kind == kind && p.ReleaseID == id })
}

// CLILog: three pushes through the real CLI and adapter, then `epack log
// verify`: exit 0 untouched (and every push receipt is at its place);
// exit 11 naming the record when the middle release record is deleted or
// its labels are edited, and the receipt of that push no longer proves its
// place; `epack log show` prints the chain. scope is the escaped
// "<ws>/<env>" of the remote's target.
func CLILog(t *testing.T, c *CLI, remoteName string, store registry.Store, scope string, tp Tamper) {
	var ids, receipts []string
	for i := range 3 {
		p := c.BuildPack(t, fmt.Sprintf("log%d", i), fmt.Sprintf(`{"log":%d}`, i))
		r := c.MustRun(t, "push", remoteName, p, "--label", fmt.Sprintf("v2.%d", i))
		ids = append(ids, r.str("release_id"))
		receipts = append(receipts, r.str("receipt_path"))
	}
	for i, rp := range receipts {
		data, err := os.ReadFile(rp)
		if err != nil {
			t.Fatal(err)
		}
		var rc struct {
			Release struct {
				Log struct {
					Sequence     int64  `json:"sequence"`
					RecordSHA256 string `json:"record_sha256"`
				} `json:"log"`
			} `json:"release"`
		}
		if json.Unmarshal(data, &rc) != nil || rc.Release.Log.Sequence != int64(i+1) || len(rc.Release.Log.RecordSHA256) != 71 {
			t.Fatalf("receipt %s has no log position: %s", rp, data)
		}
	}
	verify := append([]string{"log", "verify", remoteName}, func() []string {
		var a []string
		for _, rp := range receipts {
			a = append(a, "--receipt", rp)
		}
		return a
	}()...)
	r := c.MustRun(t, verify...)
	if r.JSON["ok"] != true || r.JSON["blobs_checked"] != float64(3) {
		t.Fatalf("log verify of an untouched registry: %s", r.Stdout)
	}
	show := c.MustRun(t, "log", "show", remoteName, "--stream", "acme/prod")
	var sh struct {
		Streams []registry.ChainReport `json:"streams"`
	}
	if json.Unmarshal([]byte(show.Stdout), &sh) != nil || len(sh.Streams) != 1 || len(sh.Streams[0].Chain) != 3 || sh.Streams[0].Chain[1].ReleaseID != ids[1] {
		t.Fatalf("log show: %s", show.Stdout)
	}

	key := path.Join("releases", scope, registry.EscapeName("acme/prod"), ids[1]+".json")
	mid, _, err := store.Get(ctxT(t), key, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The middle release record deleted.
	tp.remove(t, store, key)
	r = c.Run(t, verify...)
	if ps := problemsOf(r); r.Code != 11 || !hasProblem(ps, registry.ProblemMissing, ids[1]) || !hasProblem(ps, registry.ProblemReceipt, ids[1]) {
		t.Fatalf("log verify after deleting the middle record: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// Its labels edited (canonical, so only the hash tells).
	rel, err := registry.ParseRecord(mid)
	if err != nil {
		t.Fatal(err)
	}
	rel.Labels = []string{"v9.9.9"}
	edited, _ := registry.EncodeRecord(rel)
	tp.overwrite(t, store, key, edited)
	r = c.Run(t, "log", "verify", remoteName)
	if ps := problemsOf(r); r.Code != 11 || !hasProblem(ps, registry.ProblemAltered, ids[1]) {
		t.Fatalf("log verify after editing labels: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// The human report names it too.
	if out, code := c.runPlain(t, "log", "verify", remoteName); code != 11 || !bytes.Contains([]byte(out), []byte("altered: record "+ids[1])) {
		t.Fatalf("log verify (human) after editing labels: exit %d\n%s", code, out)
	}
	tp.overwrite(t, store, key, mid)
	c.MustRun(t, verify...)
}

// runPlain runs epack without --json and returns stdout and the exit status.
func (c *CLI) runPlain(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(c.Bin, args...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("epack %v: %v", args, err)
	}
	return string(out), 0
}

// DirTamper changes a filesystem registry in root behind its back,
// read-only files included.
func DirTamper(root string) Tamper {
	file := func(key string) string { return filepath.Join(root, filepath.FromSlash(key)) }
	return Tamper{
		Overwrite: func(t testing.TB, key string, data []byte) {
			t.Helper()
			p := file(key)
			os.Chmod(p, 0o644)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		Remove: func(t testing.TB, key string) {
			t.Helper()
			if err := os.Remove(file(key)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		},
	}
}
