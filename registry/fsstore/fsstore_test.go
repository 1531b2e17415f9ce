package fsstore_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
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
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
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
		Prefix:    "registry/",
		Overwrite: registrytest.DirTamper(root).Overwrite,
		Remove:    registrytest.DirTamper(root).Remove,
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
		if registry.CodeOf(err) != protocol.CodeInvalidRequest {
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

// A blob edited by hand at the pack's content address must not block that
// pack for good: prepare does not skip the upload, and finalize replaces the
// damaged blob with the verified upload.
func TestTamperedBlobIsHealed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(b []byte) []byte
	}{
		{"same size", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{"shorter", func(b []byte) []byte { return b[:len(b)-1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "registry")
			store, err := fsstore.New(root)
			if err != nil {
				t.Fatal(err)
			}
			reg := registry.New(store, registry.Options{Name: "filesystem"})
			p := registrytest.MakePack(t, t.TempDir(), "p.epack", "tampered")
			blobDir := filepath.Join(root, "blobs", "sha256")
			if err := os.MkdirAll(blobDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(blobDir, p.FileHex), tc.tamper(append([]byte(nil), p.Data...)), 0o444); err != nil {
				t.Fatal(err)
			}
			tgt := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/evidence"}
			ctx := context.Background()
			prep, err := reg.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: tgt, Pack: p.Info()})
			if err != nil {
				t.Fatal(err)
			}
			if prep.Upload.Method == protocol.MethodSkip {
				t.Fatal("push.prepare skipped the upload although the stored blob is wrong")
			}
			if err := registrytest.UploadRaw(t, prep.Upload, p.Data, false); err != nil {
				t.Fatal(err)
			}
			// The verified upload replaces the damaged blob.
			if _, err = reg.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: tgt, FinalizeToken: prep.FinalizeToken}); err != nil {
				t.Fatalf("finalize over a damaged blob: %v", err)
			}
			got, err := os.ReadFile(filepath.Join(blobDir, p.FileHex))
			if err != nil || string(got) != string(p.Data) {
				t.Fatalf("the damaged blob was not replaced by the verified upload (%v)", err)
			}
		})
	}
}

// TestRecordsWriteOnce: release records and blobs are read-only files that
// the store never replaces, and it never deletes a record.
func TestRecordsWriteOnce(t *testing.T) {
	e := NewEnv(t, func(_ string, s *fsstore.Store) registrytest.Adapter {
		return registry.New(s, registry.Options{Name: "filesystem"})
	})
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "write-once")
	_, fin := registrytest.Push(t, e, protocol.TargetConfig{Stream: "s"}, p, "v1")
	registrytest.Push(t, e, protocol.TargetConfig{Stream: "s"}, p, "again")
	ctx := t.Context()
	recs, err := e.Store.List(ctx, "releases/", 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %v %v", recs, err)
	}
	for _, key := range []string{recs[0].Key, recs[1].Key, "blobs/sha256/" + p.FileHex} {
		st, err := os.Stat(filepath.Join(e.FileRoot, key))
		if err != nil || st.Mode().Perm() != 0o444 {
			t.Fatalf("%s: mode %v, %v", key, st.Mode(), err)
		}
		if err := e.Store.Put(ctx, key, strings.NewReader("x"), 1); err == nil {
			t.Fatalf("%s replaced", key)
		}
		_, info, _ := e.Store.Get(ctx, key, 1<<20)
		if _, err := e.Store.CompareAndSwap(ctx, key, info.ETag, []byte("x")); err == nil || errors.Is(err, registry.ErrConflict) {
			t.Fatalf("%s swapped", key)
		}
	}
	for _, r := range recs {
		if err := e.Store.Delete(ctx, r.Key); err == nil {
			t.Fatalf("%s deleted", r.Key)
		}
	}
	if pp, err := e.A.PullPrepare(ctx, &protocol.PullPrepareRequest{Target: protocol.TargetConfig{Stream: "s"}, Ref: protocol.PullRef{ReleaseID: fin.Release.ReleaseID}}); err != nil || len(pp.Pack.Labels) != 2 {
		t.Fatalf("pull: %+v %v", pp, err)
	}
}
