package remote

import (
	"context"
	"os"
	"path/filepath"
	"sync"
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
	if defaultCommandTimeout < time.Minute || defaultCommandTimeout > 10*time.Minute || defaultCapabilitiesTimeout != 30*time.Second {
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

// Each session paces its own adapter calls: two sessions in one process
// (a program pushing to two remotes) never share a limiter.
func TestSessionsHaveTheirOwnLimiter(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	r := p.remote("origin", bin)
	a, err := p.open(r, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := p.open(r, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.calls == nil || a.calls == b.calls {
		t.Fatalf("sessions share a limiter: %p %p", a.calls, b.calls)
	}
}
