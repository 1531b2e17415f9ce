package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// recorder is an upload server that keeps every request it saw.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method string
	header http.Header
	body   []byte
	err    error
	clen   int64
}

func (rc *recorder) record(r *http.Request) recorded {
	b, err := io.ReadAll(r.Body)
	rec := recorded{method: r.Method, header: r.Header.Clone(), body: b, err: err, clen: r.ContentLength}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, rec)
	rc.mu.Unlock()
	return rec
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

func putReq(url string, data []byte) UploadRequest {
	return UploadRequest{
		Target: Target{Method: "PUT", URL: url, Headers: map[string]string{
			"Content-Type": "application/zip", "Authorization": "Bearer secret", "X-Amz-Meta-A": "b",
			"Host": "evil.example", "Content-Length": "1",
		}},
		Policy: loopback,
		Body:   bytes.NewReader(data),
		Size:   int64(len(data)),
		SHA256: sum(data),
	}
}

func TestUploadHTTPSSendsHeadersAndExactBytes(t *testing.T) {
	var rc recorder
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "evil.example" {
			t.Errorf("adapter Host header was used")
		}
		rc.record(r)
	}))
	defer srv.Close()
	data := testData(3 << 20)
	var calls atomic.Int64
	var last atomic.Int64
	req := putReq(srv.URL+"/blob", data)
	req.Progress = func(w, total int64) {
		calls.Add(1)
		last.Store(w)
		if total != int64(len(data)) {
			t.Errorf("progress total %d", total)
		}
	}
	if err := tlsClient(srv).Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := rc.all()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	g := got[0]
	if g.method != "PUT" || !bytes.Equal(g.body, data) || g.clen != int64(len(data)) {
		t.Fatalf("method %s len %d clen %d", g.method, len(g.body), g.clen)
	}
	if g.header.Get("Authorization") != "Bearer secret" || g.header.Get("Content-Type") != "application/zip" || g.header.Get("X-Amz-Meta-A") != "b" {
		t.Fatalf("headers not sent over https: %v", g.header)
	}
	if last.Load() != int64(len(data)) || calls.Load() > 120 {
		t.Fatalf("progress: last %d calls %d", last.Load(), calls.Load())
	}
}

func TestUploadPlainHTTPNeverSendsAdapterHeaders(t *testing.T) {
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { rc.record(r) })
	data := testData(1000)
	if err := fastClient().Upload(context.Background(), putReq(srv.URL+"/x", data)); err != nil {
		t.Fatal(err)
	}
	g := rc.all()[0]
	for _, h := range []string{"Authorization", "X-Amz-Meta-A", "Content-Type"} {
		if g.header.Get(h) != "" {
			t.Fatalf("%s sent over plain http", h)
		}
	}
	if !bytes.Equal(g.body, data) {
		t.Fatal("body differs")
	}
}

func TestUploadPolicyRefusals(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	data := []byte("pack")
	c := fastClient()
	for _, m := range []string{"GET", "DELETE", "", "put", "HEAD", "SKIP"} {
		req := putReq(srv.URL, data)
		req.Target.Method = m
		wantCode(t, c.Upload(context.Background(), req), errcode.UploadFailed)
	}
	req := putReq(srv.URL, data)
	req.Target.Method = "skip"
	if err := c.Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	req = putReq(srv.URL, data)
	req.Policy = Policy{} // loopback http not allowed
	wantCode(t, c.Upload(context.Background(), req), errcode.URLNotAllowed)
	req = putReq("http://example.com/x", data)
	wantCode(t, c.Upload(context.Background(), req), errcode.URLNotAllowed)
	req = putReq(srv.URL, data)
	req.SHA256 = "md5:abc"
	wantCode(t, c.Upload(context.Background(), req), errcode.InvalidInput)
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the server", hits.Load())
	}
}

func TestUploadRetries5xxThenSucceeds(t *testing.T) {
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rc.record(r)
		if len(rc.all()) <= 2 {
			http.Error(w, "busy", http.StatusInternalServerError)
		}
	})
	data := testData(200 << 10)
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, data)); err != nil {
		t.Fatal(err)
	}
	got := rc.all()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, g := range got {
		if !bytes.Equal(g.body, data) {
			t.Fatalf("attempt %d sent %d bytes, not the full body", i, len(g.body))
		}
	}
}

func TestUploadGivesUpAfterAttempts(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("x")))
	wantCode(t, err, errcode.NetworkError)
	if n.Load() != 4 || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("attempts %d, err %v", n.Load(), err)
	}
}

func TestUploadConnectionResetMidBodyIsRetried(t *testing.T) {
	var n atomic.Int64
	var rc recorder
	data := testData(4 << 20)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			io.CopyN(io.Discard, r.Body, 64<<10)
			resetConn(t, w)
			return
		}
		rc.record(r)
	})
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, data)); err != nil {
		t.Fatal(err)
	}
	got := rc.all()
	if n.Load() != 2 || len(got) != 1 || !bytes.Equal(got[0].body, data) {
		t.Fatalf("attempts %d, complete uploads %d", n.Load(), len(got))
	}
}

func TestUpload429RetryAfter(t *testing.T) {
	var n atomic.Int64
	var first, second time.Time
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		second = time.Now()
	})
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("data"))); err != nil {
		t.Fatal(err)
	}
	if d := second.Sub(first); d < 950*time.Millisecond || d > 5*time.Second {
		t.Fatalf("waited %v, want about 1s", d)
	}
}

func TestUploadRedirectsAreRefused(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var targetHits atomic.Int64
			target := newServer(t, func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) })
			var n atomic.Int64
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, target.URL+"/elsewhere?sig=secret", code)
			})
			err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("data")))
			wantCode(t, err, errcode.UploadFailed)
			if !strings.Contains(err.Error(), "/elsewhere") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error should name the location without its query: %v", err)
			}
			if targetHits.Load() != 0 || n.Load() != 1 {
				t.Fatalf("redirect followed (target hits %d, attempts %d)", targetHits.Load(), n.Load())
			}
		})
	}
}

// changingReader returns different bytes from the ones that were verified.
type changingReader struct{ data []byte }

func (c changingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(c.data).ReadAt(p, off)
	for i := range p[:n] {
		if off+int64(i) == 10 {
			p[i] ^= 0xff
		}
	}
	return n, err
}

func TestUploadDigestMismatch(t *testing.T) {
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { rc.record(r) })
	data := testData(100 << 10)
	req := putReq(srv.URL, data)
	req.Body = changingReader{data}
	err := fastClient().Upload(context.Background(), req)
	wantCode(t, err, errcode.DigestMismatch)
	if len(rc.all()) != 1 {
		t.Fatal("digest mismatch must not be retried")
	}
	// A body shorter than Size is an error too.
	req = putReq(srv.URL, data)
	req.Size = int64(len(data)) + 10
	if err := fastClient().Upload(context.Background(), req); err == nil {
		t.Fatal("short body accepted")
	}
}

func TestUploadServerAnswersBeforeReadingBody(t *testing.T) {
	// A 200 without reading the body still verifies the whole body.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	data := testData(8 << 20)
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, data)); err != nil {
		t.Fatal(err)
	}
	req := putReq(srv.URL, data)
	req.Body = changingReader{data}
	wantCode(t, fastClient().Upload(context.Background(), req), errcode.DigestMismatch)
}

func TestUploadExpired(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		expires time.Time
		code    errcode.Code
	}{
		{"s3 body", 403, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`, time.Time{}, errcode.URLExpired},
		{"400 expired body", 400, `<Error><Code>ExpiredToken</Code></Error>`, time.Time{}, errcode.URLExpired},
		{"403 after expires_at", 403, `denied`, time.Now().Add(-time.Minute), errcode.URLExpired},
		{"403 before expires_at", 403, `denied`, time.Now().Add(time.Hour), errcode.UploadFailed},
		{"400 after expires_at plain", 400, `bad`, time.Now().Add(-time.Minute), errcode.UploadFailed},
		{"404", 404, `no such bucket`, time.Time{}, errcode.UploadFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int64
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			})
			req := putReq(srv.URL, []byte("data"))
			req.Target.ExpiresAt = c.expires
			err := fastClient().Upload(context.Background(), req)
			wantCode(t, err, c.code)
			if n.Load() != 1 {
				t.Fatalf("%d attempts", n.Load())
			}
			if c.code == errcode.URLExpired && errcode.HintOf(err) == "" {
				t.Fatal("no hint")
			}
		})
	}
}

func TestUploadErrorBodyIsBoundedAndClean(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(404)
		io.WriteString(w, "\x1b[31mred\x07"+strings.Repeat("a", 5000))
	})
	err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("x")))
	wantCode(t, err, errcode.UploadFailed)
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\x07") || len(msg) > 1200 || !strings.Contains(msg, "status 404") {
		t.Fatalf("message %q (%d bytes)", msg[:min(len(msg), 80)], len(msg))
	}
}

func TestUploadCancelStopsQuickly(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := fastClient().Upload(ctx, putReq(srv.URL, testData(64<<20)))
	wantCode(t, err, errcode.Canceled)
	if d := time.Since(start); d > 20*time.Second { // hang guard: the server never answers
		t.Fatalf("took %v", d)
	}
}

func TestUploadStallTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	c := fastClient()
	c.Retry.Attempts = 2
	c.StallTimeout = 150 * time.Millisecond
	// Attempts are counted where they start (the client's transport): on a
	// loaded machine a stall can fire before the server sees the request.
	var attempts atomic.Int64
	c.HTTP.Transport = countingTransport{c.HTTP.Transport, &attempts}
	start := time.Now()
	err := c.Upload(context.Background(), putReq(srv.URL, testData(32<<20)))
	wantCode(t, err, errcode.Timeout)
	if d := time.Since(start); d > 20*time.Second || attempts.Load() != 2 || n.Load() > 2 {
		t.Fatalf("took %v, %d attempts, %d reached the server", d, attempts.Load(), n.Load())
	}
}

// countingTransport counts the requests a client starts.
type countingTransport struct {
	http.RoundTripper
	n *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

func TestUploadEmptyBody(t *testing.T) {
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { rc.record(r) })
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	if g := rc.all()[0]; len(g.body) != 0 || g.clen != 0 {
		t.Fatalf("%+v", g)
	}
}

// ---- file:// ----

func fileReq(root, path string, data []byte) UploadRequest {
	return UploadRequest{
		Target: Target{Method: "PUT", URL: "file://" + path},
		Policy: Policy{FileRoot: root},
		Body:   bytes.NewReader(data),
		Size:   int64(len(data)),
		SHA256: sum(data),
	}
}

func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestUploadFile(t *testing.T) {
	root := t.TempDir()
	data := testData(3<<20 + 17)
	dest := filepath.Join(root, "blobs", "sha256", "abc")
	var last int64
	req := fileReq(root, dest, data)
	req.Progress = func(w, total int64) { last = w }
	if err := NewClient().Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) || last != int64(len(data)) {
		t.Fatalf("content differs (%v) last progress %d", err, last)
	}
	if st, _ := os.Stat(dest); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	// Replace an existing file.
	data2 := testData(10)
	if err := NewClient().Upload(context.Background(), fileReq(root, dest, data2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data2) {
		t.Fatal("not replaced")
	}
	if l := listAll(t, root); fmt.Sprint(l) != "[blobs blobs/sha256 blobs/sha256/abc]" {
		t.Fatalf("leftovers: %v", l)
	}
	// localhost host and a relative file_root.
	t.Chdir(root)
	req = fileReq(".", filepath.Join(root, "rel.bin"), data2)
	req.Target.URL = "file://localhost" + filepath.Join(root, "rel.bin")
	if err := NewClient().Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func TestUploadFileRefusals(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	os.Symlink(outside, filepath.Join(root, "linkdir"))
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.Symlink(victim, filepath.Join(root, "linkfile"))
	os.Mkdir(filepath.Join(root, "adir"), 0o755)
	data := []byte("pack bytes")

	cases := []struct {
		name string
		req  UploadRequest
		code errcode.Code
	}{
		{"dotdot", fileReq(root, root+"/../outside/x", data), errcode.PathTraversal},
		{"absolute outside", fileReq(root, outside+"/x", data), errcode.PathTraversal},
		{"prefix lookalike", fileReq(root, root+"-evil/x", data), errcode.PathTraversal},
		{"symlinked folder", fileReq(root, root+"/linkdir/x", data), errcode.SymlinkNotAllowed},
		{"symlinked folder deeper", fileReq(root, root+"/linkdir/a/b/x", data), errcode.SymlinkNotAllowed},
		{"symlink target", fileReq(root, root+"/linkfile", data), errcode.SymlinkNotAllowed},
		{"folder target", fileReq(root, root+"/adir", data), errcode.UploadFailed},
		{"root itself", fileReq(root, root, data), errcode.UploadFailed},
		{"no file_root", fileReq("", root+"/x", data), errcode.URLNotAllowed},
		{"missing root", fileReq(filepath.Join(base, "missing"), filepath.Join(base, "missing", "x"), data), errcode.IOError},
	}
	rootLink := filepath.Join(base, "rootlink")
	os.Symlink(root, rootLink)
	cases = append(cases, struct {
		name string
		req  UploadRequest
		code errcode.Code
	}{"root is a symlink", fileReq(rootLink, rootLink+"/x", data), errcode.SymlinkNotAllowed})
	host := fileReq(root, root+"/x", data)
	host.Target.URL = "file://evil.example" + root + "/x"
	cases = append(cases, struct {
		name string
		req  UploadRequest
		code errcode.Code
	}{"host", host, errcode.URLNotAllowed})
	long := testData(1000)
	bad := fileReq(root, root+"/bad", long)
	bad.Body = changingReader{long}
	cases = append(cases, struct {
		name string
		req  UploadRequest
		code errcode.Code
	}{"digest mismatch", bad, errcode.DigestMismatch})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := NewClient().Upload(context.Background(), c.req)
			wantCode(t, err, c.code)
			if c.req.Policy.FileRoot == "" && !strings.Contains(err.Error(), "file_root") {
				t.Fatalf("error should mention file_root: %v", err)
			}
		})
	}
	if l := listAll(t, outside); fmt.Sprint(l) != "[victim]" {
		t.Fatalf("written outside root: %v", l)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatal("victim changed")
	}
	if l := listAll(t, root); fmt.Sprint(l) != "[adir linkdir linkfile]" {
		t.Fatalf("root holds %v", l)
	}
}

func TestUploadFileCancel(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := NewClient().Upload(ctx, fileReq(root, root+"/x", testData(4<<20)))
	wantCode(t, err, errcode.Canceled)
	if l := listAll(t, root); len(l) != 0 {
		t.Fatalf("leftovers %v", l)
	}
}

// TestUploadFileSymlinkRace swaps a folder below file_root for a symbolic
// link to an outside folder while uploads run: nothing may land outside.
func TestUploadFileSymlinkRace(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	sub := filepath.Join(root, "blobs")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.RemoveAll(sub)
			os.Symlink(outside, sub)
			time.Sleep(100 * time.Microsecond)
			os.Remove(sub)
			os.Mkdir(sub, 0o755)
			time.Sleep(100 * time.Microsecond)
		}
	})
	data := testData(64 << 10)
	c := NewClient()
	// Run until both outcomes were seen a few times, so the race really
	// happened; the deadline is only a hang guard.
	var ok, refused int
	for deadline := time.Now().Add(30 * time.Second); ok < 5 || refused < 5; {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("race not exercised: %d uploads through, %d refused", ok, refused)
		}
		err := c.Upload(context.Background(), fileReq(root, root+"/blobs/sha256/x", data))
		if err == nil {
			ok++
		} else {
			refused++
		}
	}
	close(stop)
	wg.Wait()
	if l := listAll(t, outside); len(l) != 0 {
		t.Fatalf("written outside file_root: %v", l)
	}
}

func TestUploadOneShotURLRetry(t *testing.T) {
	// The first PUT is stored but the answer is lost (connection reset after
	// reading the body); the retry meets If-None-Match: * → 412 → success.
	var n atomic.Int64
	var stored atomic.Bool
	data := testData(100 << 10)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		if stored.Load() {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		if bytes.Equal(b, data) {
			stored.Store(true)
		}
		resetConn(t, w)
	})
	if err := fastClient().Upload(context.Background(), putReq(srv.URL, data)); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d attempts", n.Load())
	}
	// A 412 on the first attempt is a failure.
	srv2 := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusPreconditionFailed)
	})
	wantCode(t, fastClient().Upload(context.Background(), putReq(srv2.URL, data)), errcode.UploadFailed)
}

func TestUploadHostileHeaders(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Header.Get("Evil") != "" {
			t.Error("header injection reached the server")
		}
	}))
	defer srv.Close()
	for _, h := range []map[string]string{
		{"X-A": "v\r\nEvil: 1"},
		{"Bad Name": "v"},
		{"X-B\r\nEvil": "1"},
	} {
		req := putReq(srv.URL, []byte("x"))
		req.Target.Headers = h
		wantCode(t, tlsClient(srv).Upload(context.Background(), req), errcode.UploadFailed)
	}
	if n.Load() != 0 {
		t.Fatalf("%d requests sent", n.Load())
	}
}
