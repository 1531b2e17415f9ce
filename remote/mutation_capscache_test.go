package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

// capsWithName is a compact capabilities answer whose name is padded so
// that the cache entry storing it at now is exactly entrySize bytes.
func capsWithName(t *testing.T, s *Session, now time.Time, entrySize int) []byte {
	t.Helper()
	mk := func(name string) []byte {
		return []byte(strings.Replace(capsJSON, `"name":"script"`, `"name":"`+name+`"`, 1))
	}
	entryLen := func(out []byte) int {
		b, err := json.Marshal(capsEntry{Version: capsCacheVersion, Digest: s.Digest(), CreatedAt: now.UTC(), Output: out})
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	base := entryLen(mk(""))
	if entrySize < base {
		t.Fatalf("an entry is %d bytes at least", base)
	}
	out := mk(strings.Repeat("n", entrySize-base))
	if n := entryLen(out); n != entrySize {
		t.Fatalf("entry of %d bytes, want %d", n, entrySize)
	}
	return out
}

// The cache writes only entries it reads back: one of exactly
// capsCacheMaxBytes is stored and used, one byte more is not written at
// all (before, an answer just under the bound was written on every probe
// and never used). What counts is the entry, not the answer: an answer of
// exactly capsCacheMaxBytes whose JSON compacts to less is cached.
func TestCapabilitiesCacheStoresWhatItReadsBack(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		out    func(t *testing.T, s *Session) []byte
		stored bool
	}{
		{"entry of exactly the bound", func(t *testing.T, s *Session) []byte { return capsWithName(t, s, now, capsCacheMaxBytes) }, true},
		{"entry one byte over the bound", func(t *testing.T, s *Session) []byte { return capsWithName(t, s, now, capsCacheMaxBytes+1) }, false},
		{"answer of exactly the bound with blanks", func(t *testing.T, s *Session) []byte {
			b := []byte(capsJSON)
			return append(append(b[:len(b)-1:len(b)-1], bytes.Repeat([]byte(" "), capsCacheMaxBytes-len(b))...), '}')
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			s, path := cachedSession(t, p, CapabilitiesCacheDir)
			if path == "" {
				t.Fatal("a verified adapter has no cache slot")
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			out := tc.out(t, s)
			s.storeCapabilities(out, now)
			_, err := os.Stat(path)
			if tc.stored != (err == nil) {
				t.Fatalf("entry written = %v (%v), want %v", err == nil, err, tc.stored)
			}
			if !tc.stored {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				return
			}
			got := s.cachedCapabilities(now)
			if got == nil {
				t.Fatal("the stored entry is not read back")
			}
			var want, have any
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatal(err)
			}
			if w, h := mustMarshal(t, want), mustMarshal(t, have); w != h {
				t.Fatalf("read back %.80s…, want %.80s…", h, w)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
