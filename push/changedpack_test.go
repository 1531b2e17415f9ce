package push_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/push"
)

// rewriteInPlace changes one byte of the file at path at offset off
// (negative: from the end) without changing its size or inode, as an editor
// or a second build writing into the same file would: push's open
// descriptor sees the new bytes.
func rewriteInPlace(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if off < 0 {
		st, err := f.Stat()
		if err != nil {
			t.Error(err)
			return
		}
		off += st.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Error(err)
		return
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b, off); err != nil {
		t.Error(err)
	}
}

// recordingUploadServer accepts PUTs and keeps the bodies it received.
type recordingUploadServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newRecordingUploadServer(t *testing.T) *recordingUploadServer {
	s := &recordingUploadServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// requestTypes lists the adapter requests in the order it received them.
func requestTypes(t *testing.T, e *env) []string {
	t.Helper()
	var types []string
	for _, r := range e2e.ReadLog(t, e.state) {
		types = append(types, r["type"].(string))
	}
	return types
}

// bigPack replaces the env's pack by one of about 3 MiB of incompressible
// data (stored), so the upload reads it in many chunks.
func bigPack(t *testing.T, e *env) {
	t.Helper()
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	e2e.WritePack(t, e.packPath, "acme/evidence", e2e.File{Name: "big.bin", Data: data})
}

// The pack is verified, then read again by the upload. If its bytes change
// in between (or while the upload reads it), the bytes sent are not the
// bytes verified: the uploader's own hash must catch it, and no release may
// be created. The change is made from push's own callbacks, at a known
// point: when the upload step starts, and on the first progress report of
// an upload that still has megabytes to read.
func TestPackChangedBeforeOrDuringHTTPUploadCreatesNoRelease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hook func(t *testing.T, e *env, o *push.Options)
	}{
		{"between verification and upload", func(t *testing.T, e *env, o *push.Options) {
			o.OnStep = func(step string, started bool) {
				if step == push.StepUpload && started {
					rewriteInPlace(t, e.packPath, 100)
				}
			}
		}},
		{"during the upload", func(t *testing.T, e *env, o *push.Options) {
			var once sync.Once
			o.OnUploadProgress = func(written, total int64) {
				if written < total-1<<20 { // a megabyte still to read: the change is read too
					once.Do(func() { rewriteInPlace(t, e.packPath, -1<<19) })
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecordingUploadServer(t)
			e := newLoopbackEnv(t, `"upload_urls":["`+srv.URL+`/up"]`)
			bigPack(t, e)
			o := e.opts()
			tc.hook(t, e, &o)
			res, err := push.Push(context.Background(), o)
			if res != nil {
				t.Errorf("result %+v for a pack that changed during the push", res)
			}
			if !errcode.Has(err, errcode.DigestMismatch) {
				t.Fatalf("want %s, got %s (%v)", errcode.DigestMismatch, errcode.Of(err), err)
			}
			if !strings.Contains(err.Error(), "do not match the verified pack") {
				t.Errorf("error does not say the bytes changed: %v", err)
			}
			if got := requestTypes(t, e); len(got) != 1 || got[0] != "push.prepare" {
				t.Errorf("adapter requests %v, want only push.prepare (no finalize, no release)", got)
			}
			if r := receipts(t, e.root); len(r) != 0 {
				t.Errorf("receipts written: %v", r)
			}
			srv.mu.Lock()
			n := len(srv.bodies)
			srv.mu.Unlock()
			if n == 0 {
				t.Error("the change was not made during an upload (the server got nothing)")
			}
		})
	}
}

// With a file:// upload the verification pass already wrote the staged
// copy, so a change after verification cannot reach the registry: the
// release holds exactly the verified bytes, never the changed file.
func TestPackChangedAfterVerificationFileUploadPublishesVerifiedBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	verified, err := os.ReadFile(e.packPath)
	if err != nil {
		t.Fatal(err)
	}
	digest := e2e.FileSHA256(t, e.packPath)
	o := e.opts()
	o.OnStep = func(step string, started bool) {
		if step == push.StepUpload && started {
			rewriteInPlace(t, e.packPath, 40)
		}
	}
	res, err := push.Push(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if now, err := os.ReadFile(e.packPath); err != nil || bytes.Equal(now, verified) {
		t.Fatalf("the pack was not changed during the push (err %v)", err)
	}
	if res.FileDigest != digest {
		t.Errorf("release file digest %s, want the verified %s", res.FileDigest, digest)
	}
	blob, err := os.ReadFile(filepath.Join(e.registry, "blobs", strings.TrimPrefix(digest, "sha256:")+".epack"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blob, verified) {
		t.Fatal("the registry holds other bytes than the ones verified")
	}
}
