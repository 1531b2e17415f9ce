package pull_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pull"
)

// expiredServer answers every download with 403 and a body saying the URL
// has expired (what a presigned URL past its time gets); it counts requests.
func expiredServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("Request has expired"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// requests returns the adapter's logged requests of one type, in order.
func requests(t *testing.T, e *env, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range e2e.ReadLog(t, e.state) {
		if r["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// receipts lists the pull receipts of remote "t".
func receipts(t *testing.T, e *env) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(e.root, ".epack", "receipts", "pull", "t", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPullReprepareAfterExpiredURL: a download URL that has expired makes
// pull ask pull.prepare again and download from the new URL; finalize
// carries the new answer's token. An adapter that keeps handing out expired
// URLs is asked 1+MaxReprepare (3) times, then the pull fails with
// url_expired and writes nothing.
func TestPullReprepareAfterExpiredURL(t *testing.T) {
	t.Parallel()
	t.Run("second URL works", func(t *testing.T) {
		e := newEnv(t, "")
		srv, hits := expiredServer(t)
		setExt(t, e, `,"download_urls":["`+srv.URL+`/old","file://{root}/blobs/{hex}.epack"]`)
		out := filepath.Join(e.root, "out.epack")
		res, err := pull.Pull(context.Background(), e.opts(out))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(e.packPath)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil || string(got) != string(want) {
			t.Fatalf("pulled bytes differ (%v)", err)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("the expired URL was asked %d times, want 1", n)
		}
		if n := len(requests(t, e, "pull.prepare")); n != 2 {
			t.Errorf("pull.prepare called %d times, want 2", n)
		}
		fin := requests(t, e, "pull.finalize")
		if len(fin) != 1 || fin[0]["finalize_token"] != "ptok_2" || fin[0]["digest"] != res.Digest {
			t.Errorf("finalize %v, want one call with the second answer's token ptok_2", fin)
		}
		if len(receipts(t, e)) != 1 || res.FinalizeWarning != nil || !res.Verified {
			t.Errorf("result %+v, receipts %v", res, receipts(t, e))
		}
		if l := leftovers(t, e.root); len(l) != 0 {
			t.Errorf("temp files left: %v", l)
		}
	})
	t.Run("every URL expired", func(t *testing.T) {
		e := newEnv(t, "")
		srv, hits := expiredServer(t)
		setExt(t, e, `,"download_urls":["`+srv.URL+`/old"]`)
		out := filepath.Join(e.root, "out.epack")
		_, err := pull.Pull(context.Background(), e.opts(out))
		if !errcode.Has(err, errcode.URLExpired) {
			t.Fatalf("pull: %v, want %s", err, errcode.URLExpired)
		}
		if !strings.HasPrefix(err.Error(), "download failed: ") {
			t.Errorf("error %q does not say the download failed", err)
		}
		if n := len(requests(t, e, "pull.prepare")); n != 3 {
			t.Errorf("pull.prepare called %d times, want 3 (one plus two re-prepares)", n)
		}
		if n := hits.Load(); n != 3 {
			t.Errorf("expired URL asked %d times, want 3", n)
		}
		if _, err := os.Lstat(out); !os.IsNotExist(err) {
			t.Errorf("output after a failed pull: %v", err)
		}
		if n := len(requests(t, e, "pull.finalize")); n != 0 {
			t.Errorf("pull.finalize called %d times", n)
		}
		if r := receipts(t, e); len(r) != 0 {
			t.Errorf("receipts: %v", r)
		}
		if l := leftovers(t, e.root); len(l) != 0 {
			t.Errorf("temp files left: %v", l)
		}
	})
}

// TestPullRefusesAnotherPackOnReprepare: when the re-prepare after an
// expired URL announces a different pack (here a valid one whose digest and
// size match its bytes, so only this check can catch the swap), the pull
// stops with digest_mismatch (exit 11) before downloading it: nothing
// written, the existing file intact with --force, no finalize, no receipt,
// no temp file.
func TestPullRefusesAnotherPackOnReprepare(t *testing.T) {
	t.Parallel()
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "no force", true: "force"}[force], func(t *testing.T) {
			e := newEnv(t, "")
			srv, hits := expiredServer(t)
			swapped := filepath.Join(e.registry, "swapped.epack")
			e2e.WritePack(t, swapped, "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{"a":"another pack"}`)})
			fi, err := os.Stat(swapped)
			if err != nil {
				t.Fatal(err)
			}
			first, other := e2e.FileSHA256(t, e.packPath), e2e.FileSHA256(t, swapped)
			setExt(t, e, fmt.Sprintf(`,"download_urls":["%s/old","file://%s"],"pull_digests":["","%s"],"pull_sizes":[0,%d]`, srv.URL, swapped, other, fi.Size()))
			out := filepath.Join(e.root, "existing.epack")
			if force {
				if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := e.opts(out)
			o.Force = force
			res, err := pull.Pull(context.Background(), o)
			if !errcode.Has(err, errcode.DigestMismatch) || res != nil {
				t.Fatalf("pull: %+v, %v; want %s", res, err, errcode.DigestMismatch)
			}
			if exitstatus.Of(err) != exitstatus.DigestMismatch {
				t.Errorf("exit %d, want %d", exitstatus.Of(err), exitstatus.DigestMismatch)
			}
			if !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), first) {
				t.Errorf("error %q does not name both packs", err)
			}
			b, rerr := os.ReadFile(out)
			if force && string(b) != "precious" {
				t.Fatalf("existing output changed: %q", b)
			}
			if !force && !os.IsNotExist(rerr) {
				t.Fatalf("output written: %v", rerr)
			}
			if n := len(requests(t, e, "pull.prepare")); n != 2 {
				t.Errorf("pull.prepare called %d times, want 2", n)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("downloads from the expired URL: %d, want 1", n)
			}
			if n := len(requests(t, e, "pull.finalize")); n != 0 {
				t.Errorf("pull.finalize called %d times for a refused pack", n)
			}
			if r := receipts(t, e); len(r) != 0 {
				t.Errorf("receipts: %v", r)
			}
			if l := leftovers(t, e.root); len(l) != 0 {
				t.Errorf("temp files left: %v", l)
			}
		})
	}
}
