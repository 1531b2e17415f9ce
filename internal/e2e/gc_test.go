//go:build unix

package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestKilledPushThenGC: 'epack push' of a 200 MiB pack is killed (SIGKILL
// to its process group, adapter included) while it writes the pack into the
// registry, so nothing cleans up, and again once push.prepare has recorded
// it (a staging record) while it uploads. The same push again makes one
// release with a valid release log; 'epack gc --dry-run' lists what the
// killed pushes left, 'epack gc' removes it (no staging record remains),
// the log still verifies and the pack pulls.
func TestKilledPushThenGC(t *testing.T) {
	p := newProj(t, fsStore())
	pk := filepath.Join(p.root, "dist", "big.epack")
	writeBigPack(t, pk, "acme/prod", 4, bigPackBytes)
	reg := filepath.Join(p.root, ".epack", "registry")

	r := p.start(t, "push", "reg", "dist/big.epack", "--frozen")
	r.waitFor(t, "Verifying pack integrity...") // the pack is being copied into the registry from here on
	if code, stderr := r.signal(t, syscall.SIGKILL, true); code != -1 {
		t.Fatalf("killed push: exit %d\n%s", code, stderr)
	}
	left := leftovers(t, reg)
	if len(left) == 0 {
		t.Fatal("the killed push left nothing in the registry")
	}

	// A second push killed once push.prepare has recorded it (its
	// staging record), while the pack is uploaded.
	r = p.start(t, "push", "reg", "dist/big.epack", "--frozen")
	r.waitFor(t, "Uploading pack")
	code, stderr := r.signal(t, syscall.SIGKILL, true)
	staged := stagingRecords(t, reg)
	switch {
	case code == -1 && len(staged) == 0:
		t.Fatalf("the push killed while uploading left no staging record\n%s", stderr)
	case code != -1:
		t.Logf("the second push ended (exit %d) before it was killed; staging records: %v", code, staged)
	}
	left = append(left, leftovers(t, reg)...)
	slices.Sort(left)
	left = slices.Compact(left)

	pushed := p.runJSON(t, "push", "reg", "dist/big.epack", "--frozen")
	relID, _ := pushed["release_id"].(string)
	receipt, _ := pushed["receipt_path"].(string)
	if rels := p.runJSON(t, "releases", "reg", "--frozen"); rels["count"] != float64(1) {
		t.Fatalf("releases after the push again: %v", rels)
	}
	verify := func() {
		t.Helper()
		v := p.runJSON(t, "log", "verify", "reg", "--frozen", "--receipt", receipt)
		streams, _ := v["streams"].([]any)
		if v["ok"] != true || len(streams) != 1 || v["blobs_checked"] != float64(1) {
			t.Fatalf("log verify: %v", v)
		}
		chain, _ := streams[0].(map[string]any)["chain"].([]any)
		if len(chain) != 1 || chain[0].(map[string]any)["release_id"] != relID {
			t.Fatalf("chain: %v", chain)
		}
	}
	verify()

	dry := p.runJSON(t, "gc", "reg", "--dry-run", "--older-than", "0s", "--frozen")
	listed := gcKeys(dry)
	for _, l := range left {
		rel, _ := filepath.Rel(reg, l)
		if !contains(listed, filepath.ToSlash(rel)) {
			t.Fatalf("gc --dry-run lists %v, not the leftover %s", listed, rel)
		}
	}
	// Each item has its size; the total adds them up.
	items, _ := dry["removed"].([]any)
	var total float64
	for _, it := range items {
		m := it.(map[string]any)
		total += m["size_bytes"].(float64)
		for _, l := range left {
			if rel, _ := filepath.Rel(reg, l); filepath.ToSlash(rel) == m["key"] {
				if st, err := os.Stat(l); err != nil || float64(st.Size()) != m["size_bytes"] {
					t.Fatalf("leftover %s listed with %v bytes", rel, m["size_bytes"])
				}
			}
		}
	}
	if dry["removed_bytes"] != total {
		t.Fatalf("dry run: %v bytes in all, the items add up to %v", dry["removed_bytes"], total)
	}
	if now := leftovers(t, reg); len(now) != len(left) {
		t.Fatalf("the dry run removed something: %v", now)
	}
	for _, st := range staged {
		if !contains(listed, st) && contains(stagingRecords(t, reg), st) {
			t.Fatalf("gc --dry-run lists %v, not the staging record %s the killed push left", listed, st)
		}
	}
	out, _, code := p.run(t, "gc", "reg", "--dry-run", "--older-than", "0s", "--frozen")
	if code != 0 || !strings.Contains(out, "Would remove") || !strings.Contains(out, "left by an interrupted upload") {
		t.Fatalf("gc --dry-run (human): exit %d\n%s", code, out)
	}

	done := p.runJSON(t, "gc", "reg", "--older-than", "0s", "--frozen")
	if got := gcKeys(done); strings.Join(got, ",") != strings.Join(listed, ",") || done["dry_run"] != false {
		t.Fatalf("gc removed %v, the dry run listed %v", got, listed)
	}
	if now := leftovers(t, reg); len(now) != 0 {
		t.Fatalf("left after gc: %v", now)
	}
	if now := stagingRecords(t, reg); len(now) != 0 {
		t.Fatalf("staging records left after gc: %v (the killed push left %v)", now, staged)
	}
	if again := p.runJSON(t, "gc", "reg", "--older-than", "0s", "--frozen"); again["count"] != float64(0) {
		t.Fatalf("second gc: %v", again)
	}
	verify()
	got := filepath.Join(p.root, "got.epack")
	p.runJSON(t, "pull", "reg", "--release", relID, "-o", got, "--frozen")
	a, _ := os.ReadFile(pk)
	b, _ := os.ReadFile(got)
	if !bytes.Equal(a, b) {
		t.Fatal("the pulled pack differs")
	}
}

// stagingRecords lists the staging records (staging/*.json, at any depth)
// of the registry folder reg, as registry keys.
func stagingRecords(t *testing.T, reg string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(reg, "staging"), func(path string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
			rel, _ := filepath.Rel(reg, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gcKeys(m map[string]any) []string {
	items, _ := m["removed"].([]any)
	var out []string
	for _, it := range items {
		k, _ := it.(map[string]any)["key"].(string)
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
