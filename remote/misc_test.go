package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/protocol"
)

func TestEndpointChecks(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	r := p.remote("origin", bin)
	r.InsecureEndpoint = "http://api.example.com"
	_, err := p.open(r, Policy{})
	wantCode(t, err, errcode.ConfigInvalid, "must use HTTPS")
	r.InsecureEndpoint = "https://user:pw@api.example.com"
	_, err = p.open(r, Policy{})
	wantCode(t, err, errcode.ConfigInvalid, "")
}

func TestAuditRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, ".epack")); err != nil {
		t.Fatal(err)
	}
	if err := audit(root, "x", nil); err == nil {
		t.Fatal("audit followed a symlinked .epack")
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Fatalf("wrote through the symlink: %v", ents)
	}
	root2 := t.TempDir()
	os.Mkdir(filepath.Join(root2, ".epack"), 0o755)
	target := filepath.Join(elsewhere, "target")
	os.WriteFile(target, nil, 0o644)
	os.Symlink(target, filepath.Join(root2, ".epack", "audit.log"))
	if err := audit(root2, "x", nil); err == nil {
		t.Fatal("audit followed a symlinked audit.log")
	}
	root3 := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := audit(root3, "ev", map[string]any{"remote": "r"}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(root3, ".epack", "audit.log"))
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.Contains(lines[1], `"event":"ev"`) || !strings.Contains(lines[1], `"remote":"r"`) {
		t.Fatalf("%q", b)
	}
}

func TestLimiter(t *testing.T) {
	l := &limiter{rate: 10, burst: 5, tokens: 5}
	start := time.Now()
	for i := 0; i < 8; i++ {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 5 immediately, 3 more at 10/s.
	if d := time.Since(start); d < 250*time.Millisecond || d > 20*time.Second {
		t.Fatalf("8 calls took %s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l2 := &limiter{rate: 1, burst: 1, tokens: 0, last: time.Now()}
	if err := l2.wait(ctx); err == nil {
		t.Fatal("wait ignored a cancelled context")
	}
}

func TestConcurrentCallsOnOneSession(t *testing.T) {
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
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Whoami(context.Background())
			if err == nil && w.Identity.Subject != "bob" {
				err = errcode.New(errcode.Internal, "subject %q", w.Identity.Subject)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestErrorAnswerWithExitZero(t *testing.T) {
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `printf '{"ok":false,"type":"error","request_id":"%s","error":{"code":"auth_required","message":"log in","retryable":false,"action":{"type":"run_command","command":"acme login"}},"extra":[1,2]}' "$ID"`)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.PullPrepare(context.Background(), &protocol.PullPrepareRequest{Ref: protocol.PullRef{Latest: true}})
	wantCode(t, err, errcode.AuthRequired, `adapter "script" pull.prepare: auth_required; adapter says: "log in"`)
	if errcode.HintOf(err) != `the adapter suggests running "acme login"` {
		t.Fatalf("hint %q", errcode.HintOf(err))
	}
}

func TestArgv0IsOriginalPath(t *testing.T) {
	for _, memfd := range []bool{true, false} {
		was := sealedexec.SetMemfd(memfd)
		p := newProject(t)
		bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
		p.pin("origin", bin)
		r := p.remote("origin", bin)
		r.Extensions = map[string]any{"issuer_argv0": true}
		s, err := p.open(r, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Whoami(context.Background())
		s.Close()
		sealedexec.SetMemfd(was)
		if err != nil || w.Identity.Issuer != bin {
			t.Fatalf("memfd=%v: argv[0] %q, want %q (%v)", memfd, w.Identity.Issuer, bin, err)
		}
	}
}

func TestCapabilitiesTimeoutAndNilClose(t *testing.T) {
	var nilSession *Session
	if err := nilSession.Close(); err != nil {
		t.Fatal(err)
	}
	if DefaultCommandTimeout < time.Minute || DefaultCommandTimeout > 10*time.Minute || DefaultCapabilitiesTimeout != 30*time.Second {
		t.Fatal("default timeouts")
	}
	p := newProject(t)
	bin := filepath.Join(t.TempDir(), "epack-remote-slow")
	os.WriteFile(bin, []byte("#!/bin/sh\necho $$ > adapter.pid\nsleep 300\n"), 0o755)
	p.pin("origin", bin)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock})
	wantCode(t, err, errcode.Timeout, "--capabilities")
	if time.Since(start) > 20*time.Second { // hang guard: the adapter sleeps 300 s
		t.Fatalf("took %s", time.Since(start))
	}
	p.groupGone(t)
}

// An audit.log that is a FIFO blocked open(2) for writing forever, so every
// unpinned push or pull hung (and Ctrl-C could not stop it). It must be
// refused at once, with or without a reader on the other end.
func TestAuditRefusesSpecialFiles(t *testing.T) {
	for _, withReader := range []bool{false, true} {
		t.Run(fmt.Sprintf("reader=%v", withReader), func(t *testing.T) {
			root := t.TempDir()
			os.Mkdir(filepath.Join(root, ".epack"), 0o755)
			fifo := filepath.Join(root, ".epack", "audit.log")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			if withReader {
				r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			done := make(chan error, 1)
			go func() { done <- audit(root, "x", nil) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("audit wrote to a FIFO")
				}
			case <-time.After(5 * time.Second):
				if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
					defer r.Close()
				}
				t.Fatal("audit blocks on a FIFO")
			}
		})
	}
}
