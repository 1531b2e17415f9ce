package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sealedexec"
)

// A start that keeps failing with ETXTBSY (something holds the private
// copy open for writing) is retried a few times, then reported as a failed
// start: the call returns instead of retrying for as long as the copy stays
// busy, and the session works again once it is free.
func TestTextBusyStartGivesUp(t *testing.T) {
	was := sealedexec.SetMemfd(false) // a temp-file copy, which can be opened for writing
	defer sealedexec.SetMemfd(was)
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	r := p.remote("origin", bin)
	r.Extensions = map[string]any{"subject": "bob"}
	s, err := p.open(r, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.sealed.Memfd() || s.sealed.TempDir() == "" {
		t.Fatal("the adapter was not sealed into a temp-file copy")
	}
	w, err := os.OpenFile(filepath.Join(s.sealed.TempDir(), filepath.Base(bin)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Whoami(context.Background())
	w.Close()
	wantCode(t, err, errcode.AdapterExecFailed, "starting")
	if !strings.Contains(err.Error(), "text file busy") {
		t.Errorf("err = %v, want the ETXTBSY of the start", err)
	}
	got, err := s.Whoami(context.Background())
	if err != nil || got.Identity.Subject != "bob" {
		t.Fatalf("once the copy is free: %+v, %v", got, err)
	}
}
