package registry_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
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
	tgt := protocol.TargetConfig{Stream: "s"}
	prep, err := r.PushPrepare(context.Background(), &protocol.PushPrepareRequest{Target: tgt, Pack: p.Info()})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	_, err = r.PushFinalize(context.Background(), &protocol.PushFinalizeRequest{Target: tgt, FinalizeToken: prep.FinalizeToken})
	if registry.CodeOf(err) != protocol.CodeNotFound || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("finalize after expiry: %v", err)
	}
}

func TestMaxPackBytes(t *testing.T) {
	now := time.Now()
	r := newReg(t, &now)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "big")
	info := p.Info()
	info.SizeBytes = 2 << 20
	_, err := r.PushPrepare(context.Background(), &protocol.PushPrepareRequest{Target: protocol.TargetConfig{Stream: "s"}, Pack: info})
	if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized pack: %v", err)
	}
	caps := r.Capabilities()
	if caps.Limits.MaxPackBytes != 1<<20 || !caps.Features.PrepareFinalize || !caps.Features.Pull || !caps.Features.RunsSync || !caps.Features.Whoami {
		t.Fatalf("capabilities %+v", caps)
	}
}
