package push_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/push"
)

var binDir string

func TestMain(m *testing.M) { os.Exit(e2e.Main(m, &binDir)) }

// env is one test project with the test adapter as remote "t".
type env struct {
	root, registry, state, packPath string
}

// newEnv creates a project whose remote "t" runs the test adapter with the
// given extensions (JSON object members without braces, may be empty) and
// extra YAML lines inside the remote, and moves into it.
func newEnv(t *testing.T, ext string, extraYAML string) *env {
	t.Helper()
	return newEnvWith(t, e2e.TestRemote{Ext: ext, YAML: extraYAML})
}

// newLoopbackEnv is newEnv with transport.allow_loopback_http.
func newLoopbackEnv(t *testing.T, ext string) *env {
	t.Helper()
	return newEnvWith(t, e2e.TestRemote{Ext: ext, LoopbackHTTP: true})
}

func newEnvWith(t testing.TB, r e2e.TestRemote) *env {
	t.Helper()
	r.YAML = "    release:\n      labels: [monthly]\n" + r.YAML
	p := e2e.NewTestProject(t, e2e.BinDir(t, binDir), r)
	e := &env{root: p.Root, registry: p.Registry, state: p.State}
	e.packPath = filepath.Join(e.root, "dist", "sample.epack")
	e2e.WritePack(t, e.packPath, "acme/evidence",
		e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)},
		e2e.File{Name: "b.json", Data: []byte(`{"b":2}`)})
	return e
}

func (e *env) opts() push.Options {
	o := push.Options{ProjectDir: e.root, Remote: "t", PackPath: e.packPath, Labels: []string{"soc2", "monthly"}, Notes: "n1", Stderr: io.Discard}
	o.Unsafe.AllowUnpinned = true
	return o
}

func receipts(t *testing.T, root string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, ".epack", "receipts", "push", "t", "*.json"))
	return m
}

func TestPushFileRegistryReceiptAndRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	var steps []string
	o := e.opts()
	o.OnStep = func(s string, started bool) {
		if started {
			steps = append(steps, "+"+s)
		} else {
			steps = append(steps, "-"+s)
		}
	}
	var progressed atomic.Int64
	o.OnUploadProgress = func(w, total int64) { progressed.Store(w) }
	res, err := push.Push(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(e.packPath)
	fileDigest := e2e.FileSHA256(t, e.packPath)
	md := md5.Sum(raw)
	p, err := pack.Open(e.packPath)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	mdig := p.ManifestDigest()
	p.Close()

	wantSteps := []string{"+Verifying pack integrity", "-Verifying pack integrity", "+Loading remote configuration", "-Loading remote configuration",
		"+Resolving adapter", "-Resolving adapter", "+Preparing upload", "-Preparing upload", "+Uploading pack", "-Uploading pack",
		"+Finalizing release", "-Finalizing release", "+Syncing runs", "-Syncing runs"}
	if strings.Join(steps, "|") != strings.Join(wantSteps, "|") {
		t.Errorf("steps:\n got %v\nwant %v", steps, wantSteps)
	}
	if progressed.Load() != int64(len(raw)) {
		t.Errorf("final progress %d, want %d", progressed.Load(), len(raw))
	}
	// The registry got exactly the verified bytes.
	blob, err := os.ReadFile(filepath.Join(e.registry, "blobs", strings.TrimPrefix(fileDigest, "sha256:")+".epack"))
	if err != nil || string(blob) != string(raw) {
		t.Fatalf("uploaded blob differs (err %v)", err)
	}
	// The prepare request carries the digests in the wire format.
	log := e2e.ReadLog(t, e.state)
	if len(log) < 2 {
		t.Fatalf("requests: %v", log)
	}
	prep := log[0]
	pk := prep["pack"].(map[string]any)
	checks := map[string]any{
		"type": "push.prepare", "remote": "t",
	}
	for k, v := range checks {
		if prep[k] != v {
			t.Errorf("prepare %s = %v, want %v", k, prep[k], v)
		}
	}
	if pk["digest"] != m.PackDigest || pk["manifest_digest"] != strings.TrimPrefix(mdig, "sha256:") ||
		pk["file_digest"] != fileDigest || pk["checksum"] != base64.StdEncoding.EncodeToString(md[:]) ||
		pk["size_bytes"] != float64(len(raw)) || pk["path"] != e.packPath {
		t.Errorf("prepare pack = %v", pk)
	}
	if tg := prep["target"].(map[string]any); tg["workspace"] != "acme" || tg["environment"] != "prod" || tg["stream"] != "acme/evidence" {
		t.Errorf("prepare target = %v", tg)
	}
	rel := prep["release"].(map[string]any)
	if fmt.Sprint(rel["labels"]) != "[monthly soc2]" || rel["notes"] != "n1" {
		t.Errorf("release = %v", rel)
	}
	fin := log[1]
	if fin["type"] != "push.finalize" || fin["finalize_token"] != "tok_1" {
		t.Errorf("finalize = %v", fin)
	}
	if fp := fin["pack"].(map[string]any); fp["digest"] != m.PackDigest || fp["file_digest"] != nil {
		t.Errorf("finalize pack = %v", fp)
	}

	// Receipt, field by field.
	if res.ReceiptPath == "" {
		t.Fatal("no receipt path")
	}
	wantDir := filepath.Join(e.root, ".epack", "receipts", "push", "t")
	if filepath.Dir(res.ReceiptPath) != wantDir {
		t.Errorf("receipt in %s, want %s", filepath.Dir(res.ReceiptPath), wantDir)
	}
	base := filepath.Base(res.ReceiptPath)
	if !strings.HasSuffix(base, "_"+strings.TrimPrefix(m.PackDigest, "sha256:")[:8]+".json") || len(base) != len("20060102_150405_12345678.json") {
		t.Errorf("receipt name %q", base)
	}
	var rc map[string]any
	b, _ := os.ReadFile(res.ReceiptPath)
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	if rc["receipt_version"] != float64(1) || rc["remote"] != "t" {
		t.Errorf("receipt header %v", rc)
	}
	if tg := rc["target"].(map[string]any); tg["workspace"] != "acme" || tg["environment"] != "prod" || tg["stream"] != "acme/evidence" {
		t.Errorf("receipt target %v", tg)
	}
	rp := rc["pack"].(map[string]any)
	if rp["path"] != e.packPath || rp["digest"] != m.PackDigest || rp["size_bytes"] != float64(len(raw)) {
		t.Errorf("receipt pack %v", rp)
	}
	rr := rc["release"].(map[string]any)
	if rr["release_id"] != "rel_0001" || rr["pack_digest"] != m.PackDigest || rr["created_at"] != "2026-01-02T03:04:05Z" || rr["canonical_ref"] != "acme/evidence@rel_0001" {
		t.Errorf("receipt release %v", rr)
	}
	if l := rc["links"].(map[string]any); l["view"] != "https://registry.example/rel_0001" {
		t.Errorf("receipt links %v", l)
	}
	if runs := rc["runs"].(map[string]any); runs["synced"] != nil || runs["failed"] != nil {
		t.Errorf("receipt runs %v", runs)
	}
	if c := rc["client"].(map[string]any); c["os"] != runtime.GOOS || c["arch"] != runtime.GOARCH || c["epack_version"] == "" {
		t.Errorf("receipt client %v", c)
	}
	if res.Release.ReleaseID != "rel_0001" || res.Links["view"] == "" {
		t.Errorf("result %+v", res)
	}
}

func TestTwoPushesSameSecondTwoReceipts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	r1, err := push.Push(context.Background(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := push.Push(context.Background(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if r1.ReceiptPath == r2.ReceiptPath {
		t.Fatalf("second receipt overwrote the first: %s", r1.ReceiptPath)
	}
	if n := len(receipts(t, e.root)); n != 2 {
		t.Fatalf("%d receipts, want 2", n)
	}
	// Receipts written by hand with a fixed time never collide either.
	w := push.ReceiptWriter{ProjectRoot: e.root}
	rc := push.NewReceipt("t", r1.Target, e.packPath, r1.PackDigest, r1.SizeBytes, r1.Release, nil, nil, nil)
	p1, err := w.Write(rc)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := w.Write(rc)
	if err != nil || p1 == p2 {
		t.Fatalf("same receipt twice: %s %s %v", p1, p2, err)
	}
}

func TestFinalizeFailureNoReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `"finalize_error":"forbidden"`, "")
	_, err := push.Push(context.Background(), e.opts())
	if err == nil || !strings.Contains(err.Error(), "push.finalize failed") || !errcode.Has(err, errcode.RemoteForbidden) {
		t.Fatalf("err = %v", err)
	}
	if n := len(receipts(t, e.root)); n != 0 {
		t.Fatalf("%d receipts after a failed finalize", n)
	}
}

func writeRun(t *testing.T, packPath, rel, body string) string {
	t.Helper()
	p := filepath.Join(pack.SidecarPath(packPath), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunSyncFailureStillWritesReceipt(t *testing.T) {
	t.Parallel()
	for _, require := range []bool{false, true} {
		t.Run(fmt.Sprint("require_success=", require), func(t *testing.T) {
			extra := ""
			if require {
				extra = "    runs:\n      require_success: true\n"
			}
			e := newEnv(t, `"runs_error":"server_error"`, extra)
			writeRun(t, e.packPath, "tools/aws/run-001/result.json", `{"ok":true}`)
			res, err := push.Push(context.Background(), e.opts())
			if require && (err == nil || !strings.Contains(err.Error(), "require_success")) {
				t.Fatalf("err = %v", err)
			}
			if !require && err != nil {
				t.Fatal(err)
			}
			if res == nil || res.ReceiptPath == "" {
				t.Fatal("no receipt for a created release")
			}
			var rc push.Receipt
			b, _ := os.ReadFile(res.ReceiptPath)
			if err := json.Unmarshal(b, &rc); err != nil {
				t.Fatal(err)
			}
			if rc.Release.ReleaseID == "" || rc.Runs.Error == "" || fmt.Sprint(rc.Runs.Failed) != "[run-001]" {
				t.Fatalf("receipt %+v", rc)
			}
		})
	}
}

func TestRunSyncDiscoveryDedupeAndBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `"max_runs_per_sync":2,"runs_reject":["r4"]`, "")
	writeRun(t, e.packPath, "tools/aws/r1/result.json", `{}`)
	writeRun(t, e.packPath, "tools/gcp/r2/result.json", `{}`)
	writeRun(t, e.packPath, "runs/r3/result.json", `{}`)
	writeRun(t, e.packPath, "runs/x/result.json", `{"run_id":"r4"}`)
	writeRun(t, e.packPath, "runs/dup/r1/result.json", `{}`) // same id as tools/aws/r1
	big := writeRun(t, e.packPath, "runs/big/result.json", strings.Repeat(" ", push.MaxRunResultBytes+1))
	_ = big
	// A symlinked result is never followed.
	secret := filepath.Join(e.root, "secret.json")
	os.WriteFile(secret, []byte(`{"secret":1}`), 0o644)
	link := filepath.Join(pack.SidecarPath(e.packPath), "runs", "ln", "result.json")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	// --runs-path is relative to the current directory.
	os.MkdirAll(filepath.Join(e.root, "extra", "r5"), 0o755)
	os.WriteFile(filepath.Join(e.root, "extra", "r5", "result.json"), []byte(`{}`), 0o644)
	o := e.opts()
	o.RunsPaths = []string{"extra/**/result.json"}
	res, err := push.Push(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	synced := strings.Join(res.SyncedRuns, ",")
	for _, id := range []string{"r1", "r2", "r3", "r5"} {
		if !strings.Contains(synced, id) {
			t.Errorf("run %s not synced: %v", id, res.SyncedRuns)
		}
	}
	failed := fmt.Sprint(res.FailedRuns)
	if !strings.Contains(failed, "r4") || !strings.Contains(failed, "big") || !strings.Contains(failed, "ln") {
		t.Errorf("failed runs %v", res.FailedRuns)
	}
	var batches, total int
	for _, r := range e2e.ReadLog(t, e.state) {
		if r["type"] == "runs.sync" {
			batches++
			n := len(r["runs"].([]any))
			total += n
			if n > 2 {
				t.Errorf("batch of %d runs exceeds max_runs_per_sync=2", n)
			}
			for _, run := range r["runs"].([]any) {
				if p := run.(map[string]any)["result_path"].(string); strings.Contains(p, "ln") {
					t.Errorf("symlinked result sent: %s", p)
				}
			}
		}
	}
	if total != 5 || batches != 3 {
		t.Errorf("sent %d runs in %d batches, want 5 in 3", total, batches)
	}
}

func TestPushLoopbackHTTPNoHeaders(t *testing.T) {
	t.Parallel()
	var got []byte
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		auth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Secret"))
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	e := newLoopbackEnv(t, `"upload_urls":["`+srv.URL+`/up"],"upload_headers":{"Authorization":"Bearer s3cr3t","X-Secret":"x"}`)
	if _, err := push.Push(context.Background(), e.opts()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(e.packPath)
	if string(got) != string(raw) {
		t.Fatal("server did not receive the pack bytes")
	}
	if a := auth.Load().(string); a != "|" {
		t.Fatalf("adapter headers sent over plain http: %q", a)
	}
}

func TestHostileUploadTargets(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	tests := []struct {
		name string
		ext  string
		code errcode.Code
		prep func(e *env)
	}{
		{"http to non-loopback", `"upload_urls":["http://example.com/up"]`, errcode.URLNotAllowed, nil},
		{"http loopback without opt-in", `"upload_urls":["http://127.0.0.1:1/up"]`, errcode.URLNotAllowed, nil},
		{"ftp", `"upload_urls":["ftp://127.0.0.1/up"]`, errcode.URLNotAllowed, nil},
		{"file outside file_root", `"upload_urls":["file://` + outside + `/x.epack"]`, errcode.PathTraversal, nil},
		{"file dot-dot escape", `"upload_urls":["file://{root}/../escape.epack"]`, errcode.PathTraversal, nil},
		{"file through symlinked folder", `"upload_urls":["file://{root}/linked/x.epack"]`, errcode.SymlinkNotAllowed, func(e *env) {
			os.Symlink(outside, filepath.Join(e.registry, "linked"))
		}},
		{"GET method", `"upload_method":"GET"`, errcode.UploadFailed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.ext, "")
			if tc.prep != nil {
				tc.prep(e)
			}
			_, err := push.Push(context.Background(), e.opts())
			if err == nil {
				t.Fatal("push succeeded")
			}
			if !errcode.Has(err, tc.code) {
				t.Errorf("err = %v (code %s), want code %s", err, errcode.Of(err), tc.code)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("something was written outside the root: %v", entries)
			}
			if tc.code == errcode.URLNotAllowed || tc.code == errcode.PathTraversal {
				audit, _ := os.ReadFile(filepath.Join(e.root, ".epack", "audit.log"))
				if !strings.Contains(string(audit), "ssrf_blocked_url") {
					t.Errorf("no ssrf_blocked_url audit event: %s", audit)
				}
			}
			if n := len(receipts(t, e.root)); n != 0 {
				t.Errorf("receipt written for a failed push")
			}
			for _, r := range e2e.ReadLog(t, e.state) {
				if r["type"] == "push.finalize" {
					t.Errorf("finalize called after a refused upload")
				}
			}
		})
	}
}

// uploadServer serves PUT /up with scripted failures and stores the body.
func uploadServer(t *testing.T, storePath string, handler func(n int, w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1))
		if handler != nil && handler(i, w, r) {
			return
		}
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		os.WriteFile(storePath, b, 0o644)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func httpEnv(t *testing.T, srvURL string, more string) *env {
	ext := `"upload_urls":["` + srvURL + `/up"]`
	if more != "" {
		ext += "," + more
	}
	e := newLoopbackEnv(t, ext)
	return e
}

func TestUploadRetriesAndRecovery(t *testing.T) {
	t.Parallel()
	t.Run("500 twice then 200", func(t *testing.T) {
		store := filepath.Join(t.TempDir(), "blob")
		srv := uploadServer(t, store, func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n <= 2 {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		e := httpEnv(t, srv.URL, "")
		if _, err := push.Push(context.Background(), e.opts()); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(e.packPath)
		if got, _ := os.ReadFile(store); string(got) != string(raw) {
			t.Fatal("stored bytes differ after retries")
		}
		// The copy staged under file_root during verification was not used
		// for an http upload and must be gone.
		if left, _ := filepath.Glob(filepath.Join(e.registry, ".epack-upload-*")); len(left) != 0 {
			t.Fatalf("staged copy left behind: %v", left)
		}
	})
	t.Run("connection reset mid-body", func(t *testing.T) {
		store := filepath.Join(t.TempDir(), "blob")
		srv := uploadServer(t, store, func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				buf := make([]byte, 64)
				io.ReadFull(r.Body, buf)
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				conn.Close()
				return true
			}
			return false
		})
		e := httpEnv(t, srv.URL, "")
		if _, err := push.Push(context.Background(), e.opts()); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(e.packPath)
		if got, _ := os.ReadFile(store); string(got) != string(raw) {
			t.Fatal("stored bytes differ after a reset")
		}
	})
	t.Run("redirects refused, never turned into GET", func(t *testing.T) {
		for _, status := range []int{301, 302, 303, 307, 308} {
			var gets atomic.Int32
			srv := uploadServer(t, filepath.Join(t.TempDir(), "blob"), func(n int, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/up" {
					http.Redirect(w, r, "/elsewhere", status)
					return true
				}
				if r.Method == http.MethodGet {
					gets.Add(1)
				}
				w.WriteHeader(http.StatusOK)
				return true
			})
			e := httpEnv(t, srv.URL, "")
			_, err := push.Push(context.Background(), e.opts())
			if err == nil || !errcode.Has(err, errcode.UploadFailed) {
				t.Fatalf("status %d: err = %v", status, err)
			}
			if gets.Load() != 0 {
				t.Fatalf("status %d: the upload was turned into a GET", status)
			}
		}
	})
	t.Run("server stores different bytes: finalize refused", func(t *testing.T) {
		store := filepath.Join(t.TempDir(), "blob")
		srv := uploadServer(t, store, func(n int, w http.ResponseWriter, r *http.Request) bool {
			b, _ := io.ReadAll(r.Body)
			b[len(b)/2] ^= 0xff
			os.WriteFile(store, b, 0o644)
			return true
		})
		e := httpEnv(t, srv.URL, `"verify_blob_path":"`+store+`"`)
		_, err := push.Push(context.Background(), e.opts())
		if err == nil || !strings.Contains(err.Error(), "push.finalize failed") || !errcode.Has(err, errcode.RemoteConflict) {
			t.Fatalf("err = %v", err)
		}
		if n := len(receipts(t, e.root)); n != 0 {
			t.Fatal("receipt written although finalize refused")
		}
	})
	t.Run("expired URL gets a fresh prepare", func(t *testing.T) {
		store := filepath.Join(t.TempDir(), "blob")
		srv := uploadServer(t, store, func(n int, w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/expired" {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
				return true
			}
			return false
		})
		ext := `"upload_urls":["` + srv.URL + `/expired","` + srv.URL + `/up"],"expires_at":["2020-01-01T00:00:00Z",""]`
		e := newLoopbackEnv(t, ext)
		res, err := push.Push(context.Background(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		// The fresh URL got the bytes: the re-prepare asked for an upload,
		// not a skip.
		raw, _ := os.ReadFile(e.packPath)
		if got, _ := os.ReadFile(store); string(got) != string(raw) || res.UploadSkipped {
			t.Fatalf("after the re-prepare: stored %d of %d bytes, upload skipped %v", len(got), len(raw), res.UploadSkipped)
		}
		n := 0
		for _, r := range e2e.ReadLog(t, e.state) {
			if r["type"] == "push.prepare" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d prepares, want 2", n)
		}
	})
	t.Run("retryable adapter error", func(t *testing.T) {
		e := newEnv(t, `"retryable_failures":2`, "")
		if _, err := push.Push(context.Background(), e.opts()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPolicyAndInputErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `"max_pack_bytes":10`, "")
	_, err := push.Push(context.Background(), e.opts())
	if err == nil || !strings.Contains(err.Error(), "at most 10 bytes") {
		t.Fatalf("max_pack_bytes: %v", err)
	}
	for _, r := range e2e.ReadLog(t, e.state) {
		if r["type"] == "push.prepare" {
			t.Fatal("prepare called for a pack over max_pack_bytes")
		}
	}
	o := e.opts()
	o.Unsafe.AllowUnpinned = false
	if _, err := push.Push(context.Background(), o); err == nil {
		t.Fatal("unpinned adapter ran without AllowUnpinned")
	}
	o = e.opts()
	o.Secure.Frozen = true
	if _, err := push.Push(context.Background(), o); err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Fatalf("frozen+allow-unpinned: %v", err)
	}
	o = e.opts()
	o.Remote = "nope"
	if _, err := push.Push(context.Background(), o); !errcode.Has(err, errcode.RemoteNotFound) {
		t.Fatalf("unknown remote: %v", err)
	}
	o = e.opts()
	o.PackPath = filepath.Join(e.root, "missing.epack")
	if _, err := push.Push(context.Background(), o); exitstatus.Of(err) != exitstatus.BadInput {
		t.Fatalf("missing pack: %v", err)
	}
	// A tampered pack never reaches the adapter.
	e = newEnv(t, "", "")
	raw, _ := os.ReadFile(e.packPath)
	i := strings.Index(string(raw), `{"a":1}`)
	raw[i+5] = '9'
	os.WriteFile(e.packPath, raw, 0o644)
	o = e.opts()
	_, err = push.Push(context.Background(), o)
	if exitstatus.Of(err) != exitstatus.DigestMismatch {
		t.Fatalf("tampered pack: %v (exit %d)", err, exitstatus.Of(err))
	}
	if log := e2e.ReadLog(t, e.state); len(log) != 0 {
		t.Fatalf("adapter was called for a tampered pack: %v", log)
	}
}

func TestReceiptWriterConcurrentAndSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte("stream: x\n"), 0o644)
	rc := push.NewReceipt("origin", remoteTarget(), "/p.epack", "sha256:"+strings.Repeat("ab", 32), 1, nil, nil, nil, nil)
	const n = 24
	paths := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			w := push.ReceiptWriter{ProjectRoot: root}
			p, err := w.Write(rc)
			paths <- p
			errs <- err
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		seen[<-paths] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct receipts for %d writes", len(seen), n)
	}
	// A symlinked receipts folder is refused, nothing is written through it.
	elsewhere := t.TempDir()
	os.RemoveAll(filepath.Join(root, ".epack", "receipts", "push", "origin"))
	if err := os.Symlink(elsewhere, filepath.Join(root, ".epack", "receipts", "push", "origin")); err != nil {
		t.Fatal(err)
	}
	w := push.ReceiptWriter{ProjectRoot: root}
	if _, err := w.Write(rc); err == nil {
		t.Fatal("receipt written through a symlinked folder")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("files written through the symlink: %v", entries)
	}
	// Hostile remote names never become paths.
	for _, name := range []string{"../x", "a/b", "..", ".", "", "x\x00y"} {
		bad := *rc
		bad.Remote = name
		if _, err := w.Write(&bad); !errcode.Has(err, errcode.PathTraversal) {
			t.Errorf("remote %q: %v", name, err)
		}
	}
}

func remoteTarget() protocol.TargetConfig {
	return protocol.TargetConfig{Workspace: "acme", Stream: "acme/prod"}
}

// A pack path that is not a regular file is bad input, refused before any
// adapter call; a FIFO used to block open(2) forever.
func TestPackPathNotRegular(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	fifo := filepath.Join(e.root, "fifo.epack")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"fifo", fifo},
		{"folder", e.root},
		{"device", os.DevNull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.opts()
			o.PackPath = tc.path
			done := make(chan error, 1)
			go func() {
				_, err := push.Push(context.Background(), o)
				done <- err
			}()
			select {
			case err := <-done:
				if exitstatus.Of(err) != exitstatus.BadInput {
					t.Fatalf("push of %s: %v (exit %d)", tc.name, err, exitstatus.Of(err))
				}
			case <-time.After(5 * time.Second):
				if w, err := os.OpenFile(tc.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("push of %s blocks", tc.name)
			}
			if log := e2e.ReadLog(t, e.state); len(log) != 0 {
				t.Fatalf("adapter was called: %v", log)
			}
		})
	}
}

// When .epack/receipts (or a folder in it) is a symbolic link, the hint must
// say so: it used to be replaced by "check permissions and free space",
// which sends the user the wrong way. Such a link is now found before the
// push starts (see TestPushRefusesLinkedFoldersInProject), so no release is
// created that could not get its receipt.
func TestReceiptSymlinkHint(t *testing.T) {
	t.Parallel()
	for _, rel := range []string{filepath.Join(".epack", "receipts"), filepath.Join(".epack", "receipts", "push")} {
		t.Run(rel, func(t *testing.T) {
			e := newEnv(t, "", "")
			elsewhere := t.TempDir()
			link := filepath.Join(e.root, rel)
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, link); err != nil {
				t.Fatal(err)
			}
			res, err := push.Push(context.Background(), e.opts())
			if !errcode.Has(err, errcode.SymlinkNotAllowed) || res != nil {
				t.Fatalf("want the push refused up front, got %+v, %v", res, err)
			}
			if hint := errcode.HintOf(err); !strings.Contains(hint, "symbolic link") {
				t.Fatalf("hint %q does not mention the symbolic link (error: %v)", hint, err)
			}
			if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
				t.Fatalf("receipt written through the link: %v", entries)
			}
		})
	}
}
