package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cachedSession opens a verified counting adapter with the capabilities
// cache in cacheDir and returns the session (closed) and the path of its
// cache entry ("" when the session has no slot).
func cachedSession(t *testing.T, p *project, cacheDir string) (*Session, string) {
	t.Helper()
	bin := countingAdapter(t, t.TempDir(), "epack-remote-count")
	p.pin("origin", bin)
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock,
		Stderr: &syncBuffer{}, CapabilitiesCache: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	dir, key, ok := s.capsCacheSlot()
	if !ok {
		return s, ""
	}
	return s, filepath.Join(p.root, dir, key)
}

// writeEntry writes a cache entry for s created at created, padded with
// spaces before its closing brace to size bytes (0: unpadded).
func writeEntry(t *testing.T, s *Session, path string, created time.Time, size int) {
	t.Helper()
	b, err := json.Marshal(capsEntry{Version: capsCacheVersion, Digest: s.Digest(), CreatedAt: created, Output: json.RawMessage(capsJSON)})
	if err != nil {
		t.Fatal(err)
	}
	if size > 0 {
		if size < len(b) {
			t.Fatalf("entry is %d bytes already", len(b))
		}
		b = append(append(b[:len(b)-1:len(b)-1], bytes.Repeat([]byte(" "), size-len(b))...), '}')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A cache entry is used up to capsCacheMaxBytes (read whole, not cut
// short) and from a minute in the future (clock skew) to exactly
// capsCacheMaxAge old; past either bound it is ignored.
func TestCapabilitiesCacheEntryBounds(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		created time.Time
		size    int
		used    bool
	}{
		{"fresh", now, 0, true},
		{"exactly the size limit", now, capsCacheMaxBytes, true},
		{"one byte over the size limit", now, capsCacheMaxBytes + 1, false},
		{"exactly the maximum age", now.Add(-capsCacheMaxAge), 0, true},
		{"a nanosecond older", now.Add(-capsCacheMaxAge - 1), 0, false},
		{"a minute ahead", now.Add(time.Minute), 0, true},
		{"more than a minute ahead", now.Add(time.Minute + 1), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			s, path := cachedSession(t, p, CapabilitiesCacheDir)
			if path == "" {
				t.Fatal("a verified adapter has no cache slot")
			}
			writeEntry(t, s, path, tc.created, tc.size)
			got := s.cachedCapabilities(now)
			if tc.used != (got != nil) {
				t.Fatalf("entry used = %v, want %v", got != nil, tc.used)
			}
			if tc.used && string(got) != capsJSON {
				t.Fatalf("cached output %q, want the adapter's %q", got, capsJSON)
			}
		})
	}
}

// An absolute cache folder is used only inside the project root: its
// parent, or a folder beside the project, is never read or written, so
// every session probes.
func TestCapabilitiesCacheAbsoluteFolder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dir    func(root string) string
		cached bool
	}{
		{"inside the project", func(root string) string { return filepath.Join(root, "cache", "caps") }, true},
		{"the project root itself", func(root string) string { return root }, true},
		{"the project's parent", func(root string) string { return filepath.Dir(root) }, false},
		{"beside the project", func(root string) string { return filepath.Join(filepath.Dir(root), "caps") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			dir := tc.dir(p.root)
			bin := countingAdapter(t, p.root, "epack-remote-count")
			p.pin("origin", bin)
			var entry string
			for i := 0; i < 2; i++ {
				s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock,
					Stderr: &syncBuffer{}, CapabilitiesCache: dir})
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				if d, key, ok := s.capsCacheSlot(); ok {
					entry = filepath.Join(p.root, d, key)
				}
			}
			want := 2
			if tc.cached {
				want = 1
			}
			if n := p.probes(t); n != want {
				t.Errorf("%d probes for two sessions, want %d", n, want)
			}
			if (entry != "") != tc.cached {
				t.Fatalf("cache entry %q, want cached=%v", entry, tc.cached)
			}
			if tc.cached {
				if filepath.Dir(entry) != filepath.Clean(dir) {
					t.Errorf("entry %s is not in %s", entry, dir)
				}
				if _, err := os.Stat(entry); err != nil {
					t.Errorf("no entry written: %v", err)
				}
			}
			if ents, _ := os.ReadDir(filepath.Dir(p.root)); len(ents) != 1 {
				t.Errorf("something was written beside the project: %v", ents)
			}
		})
	}
}
