package push_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/push"
	"github.com/evidencerelay/epack/remote"
)

// A push with an unpinned adapter and no opt-in is refused with the lockfile
// code, before the adapter is asked anything; the same project pushes with
// the opt-in, so nothing else about it is wrong.
func TestPushRefusesUnpinnedAdapter(t *testing.T) {
	t.Setenv(remote.EnvAllowUnpinned, "")
	e := newEnv(t, "", "")
	o := e.opts()
	o.Unsafe.AllowUnpinned = false
	_, err := push.Push(context.Background(), o)
	if !errcode.Has(err, errcode.LockfileInvalid) || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("unpinned push: %v, want %s naming the missing pin", err, errcode.LockfileInvalid)
	}
	if n := len(e2e.ReadLog(t, e.state)); n != 0 {
		t.Fatalf("the unpinned adapter was called %d time(s)", n)
	}
	if _, err := push.Push(context.Background(), e.opts()); err != nil {
		t.Fatalf("same project with the opt-in: %v", err)
	}
}
