package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/remote"
)

func newReg(t *testing.T, now *time.Time) *registry.Registry {
	s, err := fsstore.New(filepath.Join(t.TempDir(), "reg"))
	if err != nil {
		t.Fatal(err)
	}
	return registry.New(s, registry.Options{Name: "t", PresignExpiry: time.Minute, MaxPackBytes: 1 << 20, Now: func() time.Time { return *now }})
}

// A finalize after the upload URL expired, with nothing uploaded, says so.
func TestFinalizeAfterExpiry(t *testing.T) {
	now := time.Now()
	r := newReg(t, &now)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "exp")
	tgt := remote.TargetConfig{Stream: "s"}
	prep, err := r.PushPrepare(context.Background(), &remote.PushPrepareRequest{Target: tgt, Pack: p.Info()})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	_, err = r.PushFinalize(context.Background(), &remote.PushFinalizeRequest{Target: tgt, FinalizeToken: prep.FinalizeToken})
	if registry.CodeOf(err) != remote.ErrNotFound || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("finalize after expiry: %v", err)
	}
}

func TestMaxPackBytes(t *testing.T) {
	now := time.Now()
	r := newReg(t, &now)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "big")
	info := p.Info()
	info.SizeBytes = 2 << 20
	_, err := r.PushPrepare(context.Background(), &remote.PushPrepareRequest{Target: remote.TargetConfig{Stream: "s"}, Pack: info})
	if registry.CodeOf(err) != remote.ErrInvalidRequest || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized pack: %v", err)
	}
	caps := r.Capabilities()
	if caps.Limits.MaxPackBytes != 1<<20 || !caps.Features.PrepareFinalize || !caps.Features.Pull || !caps.Features.RunsSync || !caps.Features.Whoami {
		t.Fatalf("capabilities %+v", caps)
	}
}

// The adapter handler maps registry errors to protocol errors with the
// retryable flag set by code.
func TestProtocolError(t *testing.T) {
	for _, c := range []struct {
		err       error
		code      string
		retryable bool
	}{
		{registry.Errorf(remote.ErrNotFound, "x"), remote.ErrNotFound, false},
		{registry.Errorf(remote.ErrNetworkError, "x"), remote.ErrNetworkError, true},
		{registry.ErrConflict, remote.ErrConflict, false},
		{context.DeadlineExceeded, remote.ErrNetworkError, true},
		{errString("boom"), remote.ErrServerError, true},
	} {
		var ae *adapter.Error
		if !errors.As(registry.ProtocolError(c.err), &ae) || ae.Code != c.code || ae.Retryable != c.retryable {
			t.Fatalf("%v → %+v, want %s retryable=%v", c.err, ae, c.code, c.retryable)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
