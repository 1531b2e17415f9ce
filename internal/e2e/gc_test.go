//go:build unix

package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestKilledPushThenGC: 'epack push' of a 200 MiB pack is killed (SIGKILL
// to its process group, adapter included) while it writes the pack into the
// registry, so nothing cleans up. The same push again makes one release
// with a valid release log; 'epack gc --dry-run' lists what the killed push
// left, 'epack gc' removes it, the log still verifies and the pack pulls.
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
