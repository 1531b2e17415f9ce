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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

func destFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "dl-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func getReq(url string, dest *os.File, size int64) DownloadRequest {
	return DownloadRequest{
		Target: Target{Method: "GET", URL: url, Headers: map[string]string{"Authorization": "Bearer secret", "X-Token": "t"}},
		Policy: loopback, Dest: dest, ExpectedSize: size,
	}
}

func checkDest(t *testing.T, f *os.File, res DownloadResult, data []byte) {
	t.Helper()
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("dest holds %d bytes, want %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
	if res.SHA256 != sum(data) || res.Size != int64(len(data)) {
		t.Fatalf("result %+v, want %s/%d", res, sum(data), len(data))
	}
}

func serveData(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Unix(0, 0), bytes.NewReader(data))
	}
}

func TestDownloadHTTPS(t *testing.T) {
	data := testData(5<<20 + 3)
	var hdr atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr.Store(r.Header.Clone())
		serveData(data)(w, r)
	}))
	defer srv.Close()
	f := destFile(t)
	f.WriteString("stale content that must go")
	var last, total int64
	req := getReq(srv.URL+"/p", f, int64(len(data)))
	req.Target.Method = ""
	req.Progress = func(w, tot int64) { last, total = w, tot }
	res, err := tlsClient(srv).Download(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	h := hdr.Load().(http.Header)
	if h.Get("Authorization") != "Bearer secret" || h.Get("X-Token") != "t" {
		t.Fatalf("headers not sent over https: %v", h)
	}
	if last != int64(len(data)) || total != int64(len(data)) {
		t.Fatalf("progress %d/%d", last, total)
	}
}

func TestDownloadPlainHTTPNoHeadersUnknownSize(t *testing.T) {
	data := testData(100 << 10)
	var hdr atomic.Value
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hdr.Store(r.Header.Clone())
		w.Write(data) // no Content-Length: chunked
		w.(http.Flusher).Flush()
	})
	f := destFile(t)
	res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	h := hdr.Load().(http.Header)
	if h.Get("Authorization") != "" || h.Get("X-Token") != "" {
		t.Fatal("adapter headers sent over plain http")
	}
}

func TestDownloadMethodAndPolicy(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := fastClient()
	for _, m := range []string{"POST", "PUT", "get", "skip"} {
		req := getReq(srv.URL, destFile(t), 0)
		req.Target.Method = m
		_, err := c.Download(context.Background(), req)
		wantCode(t, err, errcode.DownloadFailed)
	}
	req := getReq(srv.URL, destFile(t), 0)
	req.Policy = Policy{}
	_, err := c.Download(context.Background(), req)
	wantCode(t, err, errcode.URLNotAllowed)
	_, err = c.Download(context.Background(), getReq("file:///etc/passwd", destFile(t), 0))
	wantCode(t, err, errcode.URLNotAllowed)
	if !strings.Contains(err.Error(), "file_root") {
		t.Fatalf("%v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("request sent")
	}
}

func TestDownloadRedirects(t *testing.T) {
	data := testData(1000)
	var finalHdr atomic.Value
	// other is a second TLS server: a different host:port.
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		finalHdr.Store(r.Header.Clone())
		w.Write(data)
	}))
	defer other.Close()
	var sameHdr atomic.Value
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			sameHdr.Store(r.Header.Clone())
			w.Write(data)
		case "/other":
			http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
		case "/http-loopback":
			http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
		case "/http-external":
			http.Redirect(w, r, "http://example.com/x", http.StatusFound)
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
		case "/loop":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			http.Redirect(w, r, fmt.Sprintf("/loop?n=%d", n+1), http.StatusFound)
		}
	}))
	srv.StartTLS()
	defer srv.Close()
	c := tlsClient(srv)
	c.HTTP.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(other.Certificate())

	// Same host: followed, headers kept.
	f := destFile(t)
	res, err := c.Download(context.Background(), getReq(srv.URL+"/same", f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	if sameHdr.Load().(http.Header).Get("X-Token") != "t" {
		t.Fatal("same-host redirect lost headers")
	}
	// Another host: followed, adapter headers dropped.
	f = destFile(t)
	res, err = c.Download(context.Background(), getReq(srv.URL+"/other", f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	if h := finalHdr.Load().(http.Header); h.Get("X-Token") != "" || h.Get("Authorization") != "" {
		t.Fatalf("adapter headers sent to another host: %v", h)
	}
	// Refused hops.
	for _, p := range []string{"/http-external", "/metadata", "/file", "/ftp"} {
		_, err := c.Download(context.Background(), getReq(srv.URL+p, destFile(t), 0))
		wantCode(t, err, errcode.URLNotAllowed)
	}
	req := getReq(srv.URL+"/http-loopback", destFile(t), 0)
	req.Policy = Policy{}
	_, err = c.Download(context.Background(), req)
	wantCode(t, err, errcode.URLNotAllowed)
	_, err = c.Download(context.Background(), getReq(srv.URL+"/loop", destFile(t), 0))
	wantCode(t, err, errcode.DownloadFailed)
}

// interrupting serves data but cuts the first `cuts` answers after `at` bytes
// with a TCP reset. ranges controls whether Accept-Ranges is offered.
type interrupting struct {
	t      *testing.T
	data   []byte
	cuts   int
	at     int
	ranges bool
	// badRange makes 206 answers start at the wrong offset.
	badRange bool
	// ignoreRange answers every request with the full body.
	ignoreRange bool

	mu   sync.Mutex
	n    int
	seen []string
}

func (s *interrupting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.seen = append(s.seen, r.Header.Get("Range"))
	s.mu.Unlock()
	if s.ranges {
		w.Header().Set("Accept-Ranges", "bytes")
	}
	w.Header().Set("ETag", `"v1"`)
	start := 0
	status := 200
	if rg := r.Header.Get("Range"); rg != "" && !s.ignoreRange {
		v, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		start = v
		if s.badRange {
			start = v - 1
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.data)-1, len(s.data)))
		status = 206
	}
	body := s.data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if n <= s.cuts {
		w.Write(body[:s.at])
		w.(http.Flusher).Flush()
		cutConn(s.t, w)
		return
	}
	w.Write(body)
}

func (s *interrupting) seenRanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestDownloadResumesWithRange(t *testing.T) {
	data := testData(2 << 20)
	h := &interrupting{t: t, data: data, cuts: 2, at: 300 << 10, ranges: true}
	srv := newServer(t, h.ServeHTTP)
	f := destFile(t)
	res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	rg := h.seenRanges()
	if len(rg) != 3 || rg[0] != "" || rg[1] == "" || rg[2] == "" || rg[1] == rg[2] {
		t.Fatalf("ranges %q", rg)
	}
	if !strings.HasPrefix(rg[1], "bytes=") {
		t.Fatalf("range %q", rg[1])
	}
}

func TestDownloadRestartsWithoutRangeSupport(t *testing.T) {
	data := testData(1 << 20)
	for _, tc := range []struct {
		name string
		h    *interrupting
		want []string // the Range header of each request
	}{
		// No Accept-Ranges: the client must not ask for a range, even though
		// this server would answer one.
		{"no Accept-Ranges", &interrupting{data: data, cuts: 1, at: 200 << 10}, []string{"", ""}},
		// A 200 to a Range: the body is taken from byte 0.
		{"range ignored", &interrupting{data: data, cuts: 1, at: 200 << 10, ranges: true, ignoreRange: true}, []string{"", "bytes=204800-"}},
		// A 206 at the wrong offset: discarded, then a plain GET.
		{"wrong Content-Range", &interrupting{data: data, cuts: 1, at: 200 << 10, ranges: true, badRange: true}, []string{"", "bytes=204800-", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.t = t
			srv := newServer(t, tc.h.ServeHTTP)
			f := destFile(t)
			res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
			if err != nil {
				t.Fatal(err)
			}
			checkDest(t, f, res, data)
			if got := tc.h.seenRanges(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("Range headers %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDownloadTruncatedBodyFails(t *testing.T) {
	data := testData(1 << 20)
	h := &interrupting{t: t, data: data, cuts: 100, at: 1000}
	srv := newServer(t, h.ServeHTTP)
	_, err := fastClient().Download(context.Background(), getReq(srv.URL, destFile(t), int64(len(data))))
	wantCode(t, err, errcode.NetworkError)
	if len(h.seenRanges()) != 4 {
		t.Fatalf("%d attempts", len(h.seenRanges()))
	}
	// A body that ends cleanly but short (no Content-Length).
	srv2 := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
	})
	_, err = fastClient().Download(context.Background(), getReq(srv2.URL, destFile(t), int64(len(data))))
	wantCode(t, err, errcode.SizeMismatch)
}

func TestDownloadSizeChecks(t *testing.T) {
	data := testData(10000)
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/chunked" {
			w.Write(data)
			w.(http.Flusher).Flush()
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	})
	// Content-Length disagrees with the announced size.
	_, err := fastClient().Download(context.Background(), getReq(srv.URL, destFile(t), 5000))
	wantCode(t, err, errcode.SizeMismatch)
	_, err = fastClient().Download(context.Background(), getReq(srv.URL, destFile(t), 20000))
	wantCode(t, err, errcode.SizeMismatch)
	if n.Load() != 2 {
		t.Fatalf("size mismatch retried: %d requests", n.Load())
	}
	// Chunked body longer than announced: cut off with an error, never silently.
	f := destFile(t)
	_, err = fastClient().Download(context.Background(), getReq(srv.URL+"/chunked", f, 5000))
	wantCode(t, err, errcode.SizeMismatch)
	if st, _ := f.Stat(); st.Size() > 5000 {
		t.Fatalf("wrote %d bytes past the limit", st.Size())
	}
}

func TestDownloadRetriesAndExpiry(t *testing.T) {
	data := testData(5000)
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if n.Add(1) <= 2 {
				http.Error(w, "oops", 502)
				return
			}
			w.Write(data)
		case "/expired":
			n.Add(1)
			w.WriteHeader(403)
			io.WriteString(w, "<Message>Request has expired</Message>")
		case "/missing":
			n.Add(1)
			http.Error(w, "no such key", 404)
		}
	})
	f := destFile(t)
	res, err := fastClient().Download(context.Background(), getReq(srv.URL+"/flaky", f, 0))
	if err != nil || n.Load() != 3 {
		t.Fatalf("%v after %d", err, n.Load())
	}
	checkDest(t, f, res, data)
	n.Store(0)
	_, err = fastClient().Download(context.Background(), getReq(srv.URL+"/expired", destFile(t), 0))
	wantCode(t, err, errcode.URLExpired)
	_, err = fastClient().Download(context.Background(), getReq(srv.URL+"/missing", destFile(t), 0))
	wantCode(t, err, errcode.DownloadFailed)
	if !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such key") || n.Load() != 2 {
		t.Fatalf("%v (%d requests)", err, n.Load())
	}
}

func TestDownloadCancelStopsQuickly(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000000")
		for {
			if _, err := w.Write(make([]byte, 1024)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := fastClient().Download(ctx, getReq(srv.URL, destFile(t), 0))
	wantCode(t, err, errcode.Canceled)
	if d := time.Since(start); d > 20*time.Second { // hang guard: the body never ends
		t.Fatalf("took %v", d)
	}
}

func TestDownloadStall(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	c := fastClient()
	c.Retry.Attempts = 2
	c.StallTimeout = 150 * time.Millisecond
	_, err := c.Download(context.Background(), getReq(srv.URL, destFile(t), 0))
	wantCode(t, err, errcode.Timeout)
}

func TestDownloadFile(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "blobs"), 0o755)
	os.Mkdir(outside, 0o755)
	data := testData(3<<20 + 5)
	os.WriteFile(filepath.Join(root, "blobs", "p"), data, 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "blobs", "link"))
	os.Symlink(outside, filepath.Join(root, "linkdir"))

	p := Policy{FileRoot: root}
	get := func(path string, size int64) (DownloadResult, *os.File, error) {
		f := destFile(t)
		res, err := NewClient().Download(context.Background(), DownloadRequest{
			Target: Target{Method: "GET", URL: "file://" + path}, Policy: p, Dest: f, ExpectedSize: size})
		return res, f, err
	}
	res, f, err := get(root+"/blobs/p", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	res, f, err = get(root+"/blobs/p", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)

	_, _, err = get(root+"/blobs/p", 10)
	wantCode(t, err, errcode.SizeMismatch)
	_, _, err = get(root+"/blobs/link", 0)
	wantCode(t, err, errcode.SymlinkNotAllowed)
	_, _, err = get(root+"/linkdir/secret", 0)
	wantCode(t, err, errcode.SymlinkNotAllowed)
	_, _, err = get(root+"/../outside/secret", 0)
	wantCode(t, err, errcode.PathTraversal)
	_, _, err = get(root+"/blobs", 0)
	wantCode(t, err, errcode.InvalidPath)
	_, _, err = get(root+"/nope/x", 0)
	wantCode(t, err, errcode.IOError)
	if _, err := os.Stat(filepath.Join(root, "nope")); !os.IsNotExist(err) {
		t.Fatal("download created a folder")
	}
}

func TestDownloadProgressRenewsRetryBudget(t *testing.T) {
	// 6 cuts > 4 attempts, but each resumed answer moves 1 MiB or more.
	data := testData(8 << 20)
	h := &interrupting{t: t, data: data, cuts: 6, at: 1 << 20, ranges: true}
	srv := newServer(t, h.ServeHTTP)
	f := destFile(t)
	res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	if n := len(h.seenRanges()); n != 7 {
		t.Fatalf("%d requests", n)
	}
}

func TestDownloadRedirectToLoopbackHTTPDropsHeaders(t *testing.T) {
	data := testData(2000)
	var hdr atomic.Value
	plain := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hdr.Store(r.Header.Clone())
		w.Write(data)
	})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/blob", http.StatusFound)
	}))
	defer srv.Close()
	f := destFile(t)
	res, err := tlsClient(srv).Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	if h := hdr.Load().(http.Header); h.Get("X-Token") != "" || h.Get("Authorization") != "" {
		t.Fatalf("adapter headers followed a redirect to plain http: %v", h)
	}
}
