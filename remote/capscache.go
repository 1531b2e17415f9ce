package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidencerelay/epack/internal/safefile"
)

// CapabilitiesCacheDir is where workflows keep the capabilities of
// verified adapters, relative to the project root.
const CapabilitiesCacheDir = ".epack/cache/capabilities"

// Bounds of the capabilities cache.
const (
	// capsCacheMaxAge: an entry older than this is probed again.
	capsCacheMaxAge = 24 * time.Hour
	// capsCacheMaxBytes bounds an entry read back.
	capsCacheMaxBytes = 1 << 20
	capsCacheVersion  = 1
)

// capsEntry is one cached --capabilities answer: the adapter's exact
// output, for the very binary (digest) and environment it was given.
type capsEntry struct {
	Version   int             `json:"version"`
	Digest    string          `json:"digest"`
	CreatedAt time.Time       `json:"created_at"`
	Output    json.RawMessage `json:"output"`
}

// capsCacheKey names the entry of a binary run with env: a cached answer
// is only used for the same bytes in the same environment.
func capsCacheKey(digest string, env []string) string {
	h := sha256.New()
	io.WriteString(h, "epack capabilities v1\x00"+digest+"\x00")
	for _, kv := range env {
		io.WriteString(h, kv+"\x00")
	}
	return hex.EncodeToString(h.Sum(nil)[:20]) + ".json"
}

// cachedCapabilities returns the output --capabilities gave this sealed,
// verified binary in this environment within the last day, or nil. Only
// adapters whose digest matched the lockfile are cached: the digest of what
// runs then names the program exactly, and the answer is read back and
// checked exactly like a fresh one.
func (s *Session) cachedCapabilities(now time.Time) []byte {
	dir, key, ok := s.capsCacheSlot()
	if !ok {
		return nil
	}
	d, err := safefile.OpenDirBelow(s.opts.ProjectRoot, s.opts.ProjectRoot, dir, false, 0o755)
	if err != nil {
		return nil
	}
	defer d.Close()
	b, err := d.ReadFile(key, capsCacheMaxBytes)
	if err != nil {
		return nil
	}
	var e capsEntry
	if json.Unmarshal(b, &e) != nil || e.Version != capsCacheVersion || e.Digest != s.sealed.Digest() ||
		now.Sub(e.CreatedAt) > capsCacheMaxAge || now.Before(e.CreatedAt.Add(-time.Minute)) || len(e.Output) == 0 {
		return nil
	}
	return e.Output
}

// storeCapabilities records a checked --capabilities output (best effort:
// a cache that cannot be written only costs the next run a probe).
func (s *Session) storeCapabilities(out []byte, now time.Time) {
	dir, key, ok := s.capsCacheSlot()
	if !ok || !json.Valid(out) {
		return
	}
	b, err := json.Marshal(capsEntry{Version: capsCacheVersion, Digest: s.sealed.Digest(), CreatedAt: now.UTC(), Output: out})
	if err != nil || len(b) > capsCacheMaxBytes {
		return // an entry cachedCapabilities would never read back
	}
	d, err := safefile.OpenDirBelow(s.opts.ProjectRoot, s.opts.ProjectRoot, dir, true, 0o755)
	if err != nil {
		return
	}
	defer d.Close()
	tmp, err := d.CreateTemp(".caps-*.tmp")
	if err != nil {
		return
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		_ = d.Remove(filepath.Base(tmp.Name()))
		return
	}
	_ = d.Commit(tmp, key, true)
}

// capsCacheSlot is the folder (relative to the project root) and file name
// of this session's entry; ok is false when nothing is cached: no cache
// folder, no project, or an adapter that is not verified.
func (s *Session) capsCacheSlot() (string, string, bool) {
	dir := s.opts.CapabilitiesCache
	if dir == "" || s.opts.ProjectRoot == "" || s.res.Status != StatusVerified || s.res.PinnedDigest == "" {
		return "", "", false
	}
	if !strings.EqualFold(s.sealed.Digest(), s.res.PinnedDigest) {
		return "", "", false
	}
	if filepath.IsAbs(dir) {
		rel, err := filepath.Rel(s.opts.ProjectRoot, dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", "", false
		}
		dir = rel
	}
	return dir, capsCacheKey(s.sealed.Digest(), s.capsEnv), true
}
