package main_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// newCLI makes a project whose remote "local" is a filesystem registry.
func newCLI(t *testing.T) (*registrytest.CLI, *fsstore.Store) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "project")
	root := filepath.Join(dir, "registry")
	os.MkdirAll(proj, 0o755)
	yaml := "stream: acme/prod\nremotes:\n  local:\n    adapter: filesystem\n    transport:\n      file_root: " + root + "\n"
	if err := os.WriteFile(filepath.Join(proj, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	return &registrytest.CLI{Bin: epackBin, Dir: proj, Env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "EPACK_INSECURE_ALLOW_UNPINNED=1", "NO_COLOR=1",
	}}, store
}

// TestCLIRoundTrip: the real CLI with the real adapter process.
func TestCLIRoundTrip(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLIFlow(t, c, "local", store, "@default/@default")
}

// TestCLIConcurrent: 16 epack processes into one stream, then 8 with one pack.
func TestCLIConcurrent(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLIConcurrent(t, c, "local", store, "@default/@default", 16)
}

// TestCLILog: epack log verify through the real CLI and adapter.
func TestCLILog(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLILog(t, c, "local", store, "@default/@default", registrytest.DirTamper(store.Root()))
}
