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
// the refusal can only come from the missing pin. The opt-in is the option
// field only: EPACK_INSECURE_ALLOW_UNPINNED in the environment is the CLI's
// to read, and pull ignores it.
func TestPullRefusesUnpinnedAdapter(t *testing.T) {
	t.Setenv(remote.EnvAllowUnpinned, "1")
	e := newEnv(t, "")
	before := len(e2e.ReadLog(t, e.state))
	out := filepath.Join(t.TempDir(), "out.epack")
	o := e.opts(out)
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

// EPACK_STRICT_PRODUCTION in the environment is the CLI's to read: pull
// honours Secure.StrictProduction only. With the variable set and the field
// false the unpinned opt-in still works; with the field true it is refused
// before any adapter call.
func TestPullStrictProductionIsAnOption(t *testing.T) {
	t.Setenv("EPACK_STRICT_PRODUCTION", "1")
	e := newEnv(t, "")
	o := e.opts(filepath.Join(t.TempDir(), "out.epack"))
	if _, err := pull.Pull(context.Background(), o); err != nil {
		t.Fatalf("the variable alone made pull strict: %v", err)
	}
	t.Setenv("EPACK_STRICT_PRODUCTION", "")
	before := len(e2e.ReadLog(t, e.state))
	o = e.opts(filepath.Join(t.TempDir(), "out.epack"))
	o.Secure.StrictProduction = true
	_, err := pull.Pull(context.Background(), o)
	if !errcode.Has(err, errcode.PolicyViolation) || !strings.Contains(err.Error(), "strict production mode forbids insecure execution overrides for pull") {
		t.Fatalf("strict pull with the unpinned opt-in: %v", err)
	}
	if n := len(e2e.ReadLog(t, e.state)); n != before {
		t.Fatalf("the adapter was called %d time(s) under strict production", n-before)
	}
}
