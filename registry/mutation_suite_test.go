package registry_test

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// suiteEnv is a fresh in-process registry on a filesystem store in a temp
// dir, the way registry/fsstore runs the conformance suite: it lets the
// registry package's own tests judge its protocol logic (push, pull, runs,
// releases, versions, the release log, tampering, gc).
func suiteEnv(t *testing.T, opts registry.Options) (*registrytest.Env, *registry.Registry) {
	t.Helper()
	top := t.TempDir()
	root := filepath.Join(top, "registry")
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Name == "" {
		opts.Name = "filesystem"
	}
	reg := registry.New(store, opts)
	return &registrytest.Env{
		A:        reg,
		Store:    store,
		FileRoot: root,
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
			t.Helper()
			u, err := url.Parse(tgt.URL)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(u.Path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		AllKeys: func(t testing.TB) []string {
			t.Helper()
			var keys []string
			err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() {
					rel, err := filepath.Rel(top, p)
					if err != nil {
						return err
					}
					keys = append(keys, filepath.ToSlash(rel))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return keys
		},
		Prefix:    "registry/",
		Overwrite: registrytest.DirTamper(root).Overwrite,
		Remove:    registrytest.DirTamper(root).Remove,
	}, reg
}

// TestConformanceSuiteInProcess runs the whole registry conformance suite
// against the registry itself (no adapter process).
func TestConformanceSuiteInProcess(t *testing.T) {
	registrytest.RunAll(t, func(t *testing.T) *registrytest.Env {
		e, _ := suiteEnv(t, registry.Options{})
		return e
	})
}
