package remote

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
)

// countingAdapter is a script adapter that appends a line to caps.count
// (in its working directory, the project root) on every --capabilities.
func countingAdapter(t *testing.T, dir, name string) string {
	t.Helper()
	src := "#!/bin/sh\nif [ \"$1\" = \"--capabilities\" ]; then\n  echo x >> caps.count\n  printf '%s' '" + capsJSON + "'\n  exit 0\nfi\nexit 1\n"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *project) probes(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.root, "caps.count"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "x")
}

func (p *project) openCached(t *testing.T, r *config.Remote, pol Policy) *Session {
	t.Helper()
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Policy: pol,
		Stderr: &syncBuffer{}, CapabilitiesCache: CapabilitiesCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return s
}

// TestCapabilitiesCache: a verified adapter is probed once for many
// sessions, per binary and environment; an unpinned one every time; a
// damaged or old entry is probed again.
func TestCapabilitiesCache(t *testing.T) {
	p := newProject(t)
	bin := countingAdapter(t, t.TempDir(), "epack-remote-count")
	p.pin("origin", bin)
	r := p.remote("origin", bin)
	s := p.openCached(t, r, Policy{})
	p.openCached(t, r, Policy{})
	p.openCached(t, r, Policy{})
	if n := p.probes(t); n != 1 {
		t.Fatalf("%d probes for three sessions of one verified adapter", n)
	}
	if c := s.Capabilities(); c.Name != "script" || !c.Features.PrepareFinalize {
		t.Errorf("capabilities %+v", c)
	}
	// Another environment (the adapter's settings) is another entry.
	r2 := p.remote("origin", bin)
	r2.Extensions = map[string]any{"bucket": "other"}
	p.openCached(t, r2, Policy{})
	p.openCached(t, r2, Policy{})
	if n := p.probes(t); n != 2 {
		t.Fatalf("%d probes after a change of settings, want 2", n)
	}
	// Without a cache folder nothing is read or written.
	if _, err := p.open(r, Policy{}); err != nil {
		t.Fatal(err)
	}
	if n := p.probes(t); n != 3 {
		t.Fatalf("%d probes; a session without a cache must probe", n)
	}
	// A damaged entry, and an old one, are probed again (and replaced).
	dir := filepath.Join(p.root, CapabilitiesCacheDir)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("%d cache entries, want 2", len(ents))
	}
	key := capsCacheKey(s.Digest(), s.capsEnv)
	os.WriteFile(filepath.Join(dir, key), []byte(`{"version":1,"digest":"`+s.Digest()+`","output":{"name":`), 0o600)
	p.openCached(t, r, Policy{})
	if n := p.probes(t); n != 4 {
		t.Fatalf("%d probes after damaging the entry, want 4", n)
	}
	var e capsEntry
	b, _ := os.ReadFile(filepath.Join(dir, key))
	if json.Unmarshal(b, &e) != nil || e.Digest != s.Digest() {
		t.Fatalf("entry not rewritten: %s", b)
	}
	e.CreatedAt = time.Now().Add(-25 * time.Hour)
	b, _ = json.Marshal(e)
	os.WriteFile(filepath.Join(dir, key), b, 0o600)
	p.openCached(t, r, Policy{})
	if n := p.probes(t); n != 5 {
		t.Fatalf("%d probes after the entry aged, want 5", n)
	}
	// An entry another binary left under this key is not used.
	e.CreatedAt, e.Digest = time.Now(), "sha256:"+strings.Repeat("0", 64)
	b, _ = json.Marshal(e)
	os.WriteFile(filepath.Join(dir, key), b, 0o600)
	p.openCached(t, r, Policy{})
	if n := p.probes(t); n != 6 {
		t.Fatalf("%d probes with an entry of another digest, want 6", n)
	}
}

func TestCapabilitiesCacheOnlyVerified(t *testing.T) {
	p := newProject(t)
	bin := countingAdapter(t, t.TempDir(), "epack-remote-count")
	r := p.remote("origin", bin)
	for i := 0; i < 2; i++ {
		p.openCached(t, r, Policy{AllowUnpinned: true})
	}
	if n := p.probes(t); n != 2 {
		t.Fatalf("an unpinned adapter was probed %d times for 2 sessions", n)
	}
	if _, err := os.Stat(filepath.Join(p.root, CapabilitiesCacheDir)); !os.IsNotExist(err) {
		t.Errorf("capabilities of an unpinned adapter were cached (%v)", err)
	}
	// A linked cache folder is never read or written through.
	p2 := newProject(t)
	p2.pin("origin", bin)
	os.MkdirAll(filepath.Join(p2.root, ".epack", "cache"), 0o755)
	elsewhere := t.TempDir()
	os.Symlink(elsewhere, filepath.Join(p2.root, CapabilitiesCacheDir))
	p2.openCached(t, p2.remote("origin", bin), Policy{})
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("the cache was written through a link: %v", ents)
	}
}
