package push_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// TestSeedUsageExample builds examples/seed-usage (the seed's usage example,
// unchanged) as a separate program and runs it against a pinned adapter.
func TestSeedUsageExample(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	root := e2e.Project(t, bin, "")
	registry := filepath.Join(root, "registry")
	os.MkdirAll(registry, 0o755)
	adapterPath := filepath.Join(bin, "epack-remote-test")
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  locktivity:\n    binary: %s\n    transport:\n      file_root: %s\n", adapterPath, registry)
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yaml), 0o644)
	data, err := os.ReadFile(adapterPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	lock := fmt.Sprintf("schema_version: 1\nremotes:\n  locktivity:\n    kind: external\n    platforms:\n      %s/%s:\n        digest: sha256:%s\n",
		runtime.GOOS, runtime.GOARCH, hex.EncodeToString(sum[:]))
	os.WriteFile(filepath.Join(root, "epack.lock.yaml"), []byte(lock), 0o644)
	e2e.WritePack(t, filepath.Join(root, "packs", "acme-prod.epack"), "acme/prod", e2e.File{Name: "x.json", Data: []byte(`{}`)})

	exe := filepath.Join(testkit.Binaries(t, "./examples/seed-usage"), "seed-usage")
	run := exec.Command(exe)
	run.Dir = root
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("seed example failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "release rel_0001") {
		t.Fatalf("output: %s", out)
	}
	receipts, _ := filepath.Glob(filepath.Join(root, ".epack", "receipts", "push", "locktivity", "*.json"))
	if len(receipts) != 1 {
		t.Fatalf("receipts: %v", receipts)
	}
}
