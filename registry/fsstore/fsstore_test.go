package fsstore_test

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/remote"
)

// NewEnv returns a fresh filesystem registry in a temp dir; reg wraps the
// store in the registry or in a real adapter process.
func NewEnv(t *testing.T, adapter func(root string, store *fsstore.Store) registrytest.Adapter) *registrytest.Env {
	top := t.TempDir()
	root := filepath.Join(top, "registry")
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return &registrytest.Env{
		A:        adapter(root, store),
		Store:    store,
		FileRoot: root,
		ForceUpload: func(t testing.TB, tgt remote.TransferTarget, data []byte) {
			u, _ := url.Parse(tgt.URL)
			if err := os.WriteFile(u.Path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		AllKeys: func(t testing.TB) []string {
			var keys []string
			filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(top, p)
					keys = append(keys, filepath.ToSlash(rel))
				}
				return nil
			})
			return keys
		},
		Prefix: "registry/",
	}
}

func TestRegistryFS(t *testing.T) {
	registrytest.RunAll(t, func(t *testing.T) *registrytest.Env {
		return NewEnv(t, func(_ string, s *fsstore.Store) registrytest.Adapter {
			return registry.New(s, registry.Options{Name: "filesystem"})
		})
	})
}

func TestNewRequiresRoot(t *testing.T) {
	for _, root := range []string{"", "relative/dir"} {
		_, err := fsstore.New(root)
		if registry.CodeOf(err) != remote.ErrInvalidRequest {
			t.Fatalf("New(%q) = %v", root, err)
		}
	}
	// A symlinked root is refused.
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link"))
	if _, err := fsstore.New(filepath.Join(dir, "link")); err == nil {
		t.Fatal("symlinked root accepted")
	}
}

func TestSymlinkInsideRegistryNotFollowed(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "reg")
	s, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(top, "outside")
	os.Mkdir(outside, 0o755)
	os.Symlink(outside, filepath.Join(root, "streams"))
	err = s.CreateIfAbsent(t.Context(), "streams/x/y.json", []byte("{}"))
	if err == nil {
		t.Fatal("wrote through a symlinked folder")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside the registry: %v", ents)
	}
}

func TestCompareAndSwap(t *testing.T) {
	s, err := fsstore.New(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tag, err := s.CompareAndSwap(ctx, "a/b.json", "", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, "a/b.json", "", []byte("2")); err != registry.ErrConflict {
		t.Fatalf("create over existing: %v", err)
	}
	tag2, err := s.CompareAndSwap(ctx, "a/b.json", tag, []byte("2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, "a/b.json", tag, []byte("3")); err != registry.ErrConflict {
		t.Fatalf("stale etag: %v", err)
	}
	data, info, _ := s.Get(ctx, "a/b.json", 10)
	if string(data) != "2" || info.ETag != tag2 {
		t.Fatalf("got %q %q", data, info.ETag)
	}
	for _, k := range []string{"../x", "a/../../x", "/abs", ".locks/x", "a//b"} {
		if err := s.CreateIfAbsent(ctx, k, []byte("x")); err == nil {
			t.Fatalf("key %q accepted", k)
		}
	}
}
