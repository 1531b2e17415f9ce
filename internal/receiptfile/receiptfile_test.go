package receiptfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileBase(t *testing.T) {
	at := time.Date(2026, 11, 30, 1, 2, 3, 999, time.FixedZone("x", 3600))
	for digest, want := range map[string]string{
		"sha256:" + strings.Repeat("ab", 32): "20261130_000203_abababab",
		"sha256:12":                          "20261130_000203_12",
		"sha256:../../x":                     "20261130_000203_nodigest",
		"":                                   "20261130_000203_nodigest",
	} {
		if got := FileBase(at, digest); got != want {
			t.Errorf("FileBase(%q) = %q, want %q", digest, got, want)
		}
	}
}

func TestWriteNeverOverwritesAndStaysInside(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, ".epack", "receipts", "push")
	at := time.Now()
	var paths []string
	for i := 0; i < 3; i++ {
		p, err := Write(root, base, "origin", at, "sha256:"+strings.Repeat("cd", 32), map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i, p := range paths {
		if filepath.Dir(p) != filepath.Join(base, "origin") {
			t.Errorf("receipt outside its folder: %s", p)
		}
		var v map[string]int
		b, _ := os.ReadFile(p)
		if err := json.Unmarshal(b, &v); err != nil || v["n"] != i {
			t.Errorf("receipt %d holds %s", i, b)
		}
	}
	for _, bad := range []string{"..", "../x", "a/b", `a\b`, ".", "", "..hidden", "x\x00"} {
		if _, err := Write(root, base, bad, at, "", 1); err == nil {
			t.Errorf("remote name %q accepted", bad)
		}
	}
}

// Save anchors at the project root it is given, whatever the working
// directory is, and never looks for a project on its own.
func TestSaveUnderGivenProjectRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	digest := "sha256:" + strings.Repeat("ef", 32)
	p, err := Save(root, "", filepath.Join(".epack", "receipts", "pull"), "origin", time.Time{}, digest, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != filepath.Join(root, ".epack", "receipts", "pull", "origin") || !strings.HasSuffix(p, "_efefefef.json") {
		t.Fatalf("receipt at %s", p)
	}
	// A receipts folder that is a symbolic link below the root is refused.
	other := t.TempDir()
	if err := os.Symlink(other, filepath.Join(root, ".epack", "receipts", "push")); err != nil {
		t.Fatal(err)
	}
	if _, err := Save(root, "", filepath.Join(".epack", "receipts", "push"), "origin", time.Now(), digest, 1); err == nil {
		t.Fatal("receipt written through a linked folder")
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Fatalf("written through the link: %v", ents)
	}
}
