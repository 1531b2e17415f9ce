package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/evidencerelay/epack/errcode"
)

// Tests in this file pin behaviour that mutation testing (scripts/mutation.sh
// transfer) showed no other test held: each one fails when the line it names
// is broken.

// TestNewClientTimeouts: the transport waits a while for "100 Continue"
// (so a large body is not sent to a URL that will refuse it) and closes idle
// connections eventually.
func TestNewClientTimeouts(t *testing.T) {
	tr := NewClient().HTTP.Transport.(*http.Transport)
	if d := tr.ExpectContinueTimeout; d < time.Second || d > 10*time.Second {
		t.Fatalf("ExpectContinueTimeout %v, want a few seconds", d)
	}
	if d := tr.IdleConnTimeout; d < 10*time.Second || d > 10*time.Minute {
		t.Fatalf("IdleConnTimeout %v, want a bounded idle time", d)
	}
	if d := tr.TLSHandshakeTimeout; d < time.Second || d > time.Minute {
		t.Fatalf("TLSHandshakeTimeout %v", d)
	}
	if tr.ResponseHeaderTimeout != DefaultStallTimeout {
		t.Fatalf("ResponseHeaderTimeout %v, want the stall timeout", tr.ResponseHeaderTimeout)
	}
}

// TestErrorSnippetDropsEveryControlCharacter: a hostile error body cannot put
// any control character (or a bidi override) into our messages; new lines and
// tabs become spaces, invalid UTF-8 becomes U+FFFD.
func TestErrorSnippetDropsEveryControlCharacter(t *testing.T) {
	cases := map[string]string{
		"a\x00b\x01c\x1bd\x7fe":     "abcde",
		"line1\nline2\tend":         "line1 line2 end",
		"x\u202eevil\u202dy":        "xevily",
		"  padded  ":                "padded",
		"bad \xff utf8":             "bad \uFFFD utf8",
		"\x1b[31mred\x1b[0m\x07":    "[31mred[0m",
		"\u0085next\u009b[1mline\r": "next[1mline",
	}
	for in, want := range cases {
		if got := readSnippet(strings.NewReader(in)); got != want {
			t.Errorf("readSnippet(%q) = %q, want %q", in, got, want)
		}
	}
	if got := readSnippet(strings.NewReader(strings.Repeat("z", 5000))); len(got) != errBodyKept {
		t.Fatalf("snippet of %d bytes, want %d", len(got), errBodyKept)
	}
	if readSnippet(nil) != "" {
		t.Fatal("nil body")
	}
	// Through a real upload: the message holds no control character at all.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("no\x01such\x02key\x1b\x00"))
	})
	err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("x")))
	wantCode(t, err, errcode.UploadFailed)
	if strings.IndexFunc(err.Error(), unicode.IsControl) >= 0 || !strings.Contains(err.Error(), "nosuchkey") {
		t.Fatalf("message %q", err.Error())
	}
}

// connLog is a server handler wrapper that records the client address of
// every request: one address for several requests means the connection was
// reused, which needs every response body to be drained and closed.
type connLog struct {
	mu    sync.Mutex
	addrs []string
}

func (c *connLog) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.addrs = append(c.addrs, r.RemoteAddr)
		c.mu.Unlock()
		h(w, r)
	}
}

func (c *connLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.addrs...)
}

// TestRefusedAnswersFreeTheConnection: an answer refused before its body is
// read (a Content-Length other than the announced size, an upload redirect)
// is drained and closed, so the next request reuses the connection instead
// of leaking it.
func TestRefusedAnswersFreeTheConnection(t *testing.T) {
	data := testData(20 << 10)
	var cl connLog
	srv := newServer(t, cl.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}))
	c := fastClient()
	_, err := c.Download(context.Background(), getReq(srv.URL, destFile(t), int64(len(data))+1))
	wantCode(t, err, errcode.SizeMismatch)
	wantCode(t, c.Upload(context.Background(), putReq(srv.URL, []byte("x"))), errcode.UploadFailed)
	f := destFile(t)
	res, err := c.Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	addrs := cl.all()
	if len(addrs) != 3 || addrs[0] != addrs[1] || addrs[1] != addrs[2] {
		t.Fatalf("requests came from %q: a refused answer kept its connection busy", addrs)
	}
}

// TestWatchdogSparesMovingTransfers: a body that keeps arriving, slower than
// the watchdog ticks but well within the stall timeout between pieces, is
// never cut.
func TestWatchdogSparesMovingTransfers(t *testing.T) {
	data := testData(10 << 10)
	const pieces = 8
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		step := len(data) / pieces
		for i := 0; i < pieces; i++ {
			w.Write(data[i*step : (i+1)*step])
			w.(http.Flusher).Flush()
			// Pacing of the workload (not synchronisation): each pause is a
			// few watchdog ticks long and far below the stall timeout.
			time.Sleep(40 * time.Millisecond)
		}
	})
	c := fastClient()
	c.Retry.Attempts = 1
	c.StallTimeout = 2 * time.Second
	f := destFile(t)
	res, err := c.Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
}

// TestWatchdogNoticesAStallPromptly: a stalled attempt ends about one stall
// timeout after the last byte (the watchdog checks 8 times per timeout), not
// several timeouts later.
func TestWatchdogNoticesAStallPromptly(t *testing.T) {
	const stall = 2 * time.Second
	ctx, wd := startWatchdog(context.Background(), stall)
	defer wd.stop()
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute): // hang guard
		t.Fatal("watchdog never fired")
	}
	took := time.Since(start)
	if took < stall || took > 5*stall {
		t.Fatalf("stall noticed after %v, want about %v", took, stall)
	}
	if cause := context.Cause(ctx); !strings.Contains(cause.Error(), "no data moved") {
		t.Fatalf("cause %v", cause)
	}
}

// TestDownloadChunkedOverAnnouncedSize: a body without Content-Length that
// runs past the announced size is cut at that size, and the message says it
// is the remote's announced size that was exceeded.
func TestDownloadChunkedOverAnnouncedSize(t *testing.T) {
	data := testData(3 << 20)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:1<<20])
		w.(http.Flusher).Flush()
		w.Write(data[1<<20:])
	})
	f := destFile(t)
	const announced = 2<<20 + 1
	_, err := fastClient().Download(context.Background(), getReq(srv.URL, f, announced))
	wantCode(t, err, errcode.SizeMismatch)
	if !strings.Contains(err.Error(), "announced") || !strings.Contains(err.Error(), strconv.Itoa(announced)) {
		t.Fatalf("message %q", err)
	}
	got, rerr := os.ReadFile(f.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(got) > announced || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("dest holds %d bytes (limit %d)", len(got), announced)
	}
}

// TestDownloadFileProgressTotal: a file:// download with no announced size
// reports the file's size as the progress total.
func TestDownloadFileProgressTotal(t *testing.T) {
	root := t.TempDir()
	data := testData(2<<20 + 11)
	if err := os.WriteFile(filepath.Join(root, "p"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, expected := range []int64{0, int64(len(data))} {
		var totals []int64
		var last int64
		f := destFile(t)
		res, err := NewClient().Download(context.Background(), DownloadRequest{
			Target: Target{URL: "file://" + filepath.Join(root, "p")}, Policy: Policy{FileRoot: root},
			Dest: f, ExpectedSize: expected,
			Progress: func(w, total int64) { totals = append(totals, total); last = w },
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDest(t, f, res, data)
		if len(totals) == 0 || last != int64(len(data)) {
			t.Fatalf("expected %d: progress %v, last %d", expected, totals, last)
		}
		for _, tot := range totals {
			if tot != int64(len(data)) {
				t.Fatalf("expected %d: progress totals %v, want %d", expected, totals, len(data))
			}
		}
	}
}

// TestDownloadUnfollowedRedirectStatus: a 3xx that net/http does not follow
// (300, 304, a 302 without Location, 399) fails once, saying the redirect was
// not followed; the neighbouring 299 and 400 are not called redirects.
func TestDownloadUnfollowedRedirectStatus(t *testing.T) {
	for _, tc := range []struct {
		status   int
		redirect bool
	}{{300, true}, {302, true}, {304, true}, {399, true}, {400, false}, {299, false}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){answerStatus(tc.status, "")}}
			srv := newServer(t, s.ServeHTTP)
			_, err := fastClient().Download(context.Background(), getReq(srv.URL, destFile(t), 10))
			// (A 2xx other than 200 and 206 is no download answer either.)
			wantCode(t, err, errcode.DownloadFailed)
			if got := strings.Contains(err.Error(), "redirect not followed"); got != tc.redirect {
				t.Fatalf("message %q", err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.status)) {
				t.Fatalf("message %q does not name the status", err)
			}
			if n := len(s.seen()); n != 1 {
				t.Fatalf("%d requests", n)
			}
		})
	}
}

// TestContainedPathRefusesNUL: a NUL byte anywhere in the path or in
// file_root, the first byte included, is refused as such (never passed on to
// the file system, where it would cut the name short).
func TestContainedPathRefusesNUL(t *testing.T) {
	for _, c := range []struct{ root, path string }{
		{".", "\x00abc"},
		{".", "a\x00bc"},
		{"\x00root", "/x"},
		{"ro\x00ot", "ro\x00ot/x"},
	} {
		_, err := containedPath(c.root, c.path)
		wantCode(t, err, errcode.PathTraversal)
		if !strings.Contains(err.Error(), "NUL") {
			t.Errorf("containedPath(%q, %q): %v, want the NUL named", c.root, c.path, err)
		}
	}
}

// TestProgressReportsAlongTheWay: a transfer of several chunks reports its
// progress while it runs (not only at the end), in increasing order, and the
// end is reported once.
func TestProgressReportsAlongTheWay(t *testing.T) {
	root := t.TempDir()
	data := testData(4<<20 + 3)
	if err := os.WriteFile(filepath.Join(root, "p"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, expected := range []int64{0, int64(len(data))} {
		var calls []int64
		_, err := NewClient().Download(context.Background(), DownloadRequest{
			Target: Target{URL: "file://" + filepath.Join(root, "p")}, Policy: Policy{FileRoot: root},
			Dest: destFile(t), ExpectedSize: expected,
			Progress: func(w, total int64) { calls = append(calls, w) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) < 3 {
			t.Fatalf("expected %d: progress calls %v, want several", expected, calls)
		}
		for i := 1; i < len(calls); i++ {
			if calls[i] <= calls[i-1] {
				t.Fatalf("expected %d: progress %v not strictly increasing", expected, calls)
			}
		}
		if calls[len(calls)-1] != int64(len(data)) {
			t.Fatalf("expected %d: last progress %d", expected, calls[len(calls)-1])
		}
	}
}

// swapOnRead is an upload body that, on its first read, runs swap: it
// changes the destination while the bytes are being copied, after the
// upload's early checks and before the temp file is renamed into place.
type swapOnRead struct {
	data []byte
	once sync.Once
	swap func()
}

func (s *swapOnRead) ReadAt(p []byte, off int64) (int, error) {
	s.once.Do(s.swap)
	return bytes.NewReader(s.data).ReadAt(p, off)
}

// TestUploadFileDestinationChangesDuringCopy: a destination that becomes a
// symbolic link or a folder while the bytes are copied is refused at rename
// time: the error says so, nothing is written through the link, and no temp
// file is left.
func TestUploadFileDestinationChangesDuringCopy(t *testing.T) {
	data := testData(64 << 10)
	for _, tc := range []struct {
		name string
		swap func(dest, victim string) error
		code errcode.Code
	}{
		{"becomes a link", func(dest, victim string) error { return os.Symlink(victim, dest) }, errcode.SymlinkNotAllowed},
		{"becomes a folder", func(dest, victim string) error { return os.Mkdir(dest, 0o755) }, errcode.InvalidPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "root")
			if err := os.MkdirAll(filepath.Join(root, "blobs"), 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(base, "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(root, "blobs", "p")
			var swapErr error
			req := fileReq(root, dest, data)
			req.Body = &swapOnRead{data: data, swap: func() { swapErr = tc.swap(dest, victim) }}
			var last int64
			req.Progress = func(w, total int64) { last = w }
			err := NewClient().Upload(context.Background(), req)
			if swapErr != nil {
				t.Fatal(swapErr)
			}
			wantCode(t, err, tc.code)
			if b, rerr := os.ReadFile(victim); rerr != nil || string(b) != "keep" {
				t.Fatalf("victim changed: %q %v", b, rerr)
			}
			if l := listAll(t, filepath.Join(root, "blobs")); len(l) != 1 || l[0] != "p" {
				t.Fatalf("blobs holds %v, want only the swapped-in p", l)
			}
			if last > int64(len(data)) {
				t.Fatalf("progress %d", last)
			}
		})
	}
}

// TestUploadFileNonRegularDestination: a FIFO at the destination is never
// replaced, whether the upload copies the body or renames a staged copy
// (a failed rename of the staged copy is an error, never a success).
func TestUploadFileNonRegularDestination(t *testing.T) {
	data := testData(10 << 10)
	for _, staged := range []bool{false, true} {
		t.Run(fmt.Sprintf("staged %v", staged), func(t *testing.T) {
			root := t.TempDir()
			dest := filepath.Join(root, "p")
			if err := syscall.Mkfifo(dest, 0o644); err != nil {
				t.Fatal(err)
			}
			req := fileReq(root, dest, data)
			if staged {
				st, err := Stage(req.Policy)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Discard()
				if _, err := st.Writer().Write(data); err != nil {
					t.Fatal(err)
				}
				st.Seal(sum(data), int64(len(data)))
				req.Staged = st
			}
			err := NewClient().Upload(context.Background(), req)
			wantCode(t, err, errcode.InvalidPath)
			if fi, lerr := os.Lstat(dest); lerr != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Fatalf("destination replaced: %v %v", fi, lerr)
			}
			if left, _ := filepath.Glob(filepath.Join(root, ".epack-upload-*")); len(left) != 0 {
				t.Fatalf("temp files left: %v", left)
			}
		})
	}
}

// TestUploadExpectContinueFromOneMiB: bodies of 1 MiB or more ask the server
// to accept the request first (Expect: 100-continue); smaller ones do not.
func TestUploadExpectContinueFromOneMiB(t *testing.T) {
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { rc.record(r) })
	for _, size := range []int{expectContinueMin - 1, expectContinueMin, expectContinueMin + 1} {
		if err := fastClient().Upload(context.Background(), putReq(srv.URL, testData(size))); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.all()
	if len(got) != 3 {
		t.Fatalf("%d requests", len(got))
	}
	for i, want := range []string{"", "100-continue", "100-continue"} {
		if e := got[i].header.Get("Expect"); e != want {
			t.Errorf("request %d (%d bytes): Expect %q, want %q", i, len(got[i].body), e, want)
		}
	}
}

// TestNetworkErrorsDoNotRepeatTheURL: a transport failure is reported
// without the request URL, whose query carries the presigned credentials.
func TestNetworkErrorsDoNotRepeatTheURL(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { resetConn(t, w) })
	url := srv.URL + "/blob?X-Amz-Signature=topsecret"
	c := fastClient()
	c.Retry.Attempts = 2
	uerr := c.Upload(context.Background(), putReq(url, []byte("data")))
	_, derr := c.Download(context.Background(), getReq(url, destFile(t), 0))
	for _, err := range []error{uerr, derr} {
		wantCode(t, err, errcode.NetworkError)
		if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "X-Amz-Signature") {
			t.Fatalf("message repeats the presigned URL: %v", err)
		}
	}
}

// eofWithLastBytes is a ReaderAt that returns io.EOF together with the final
// bytes, which the io.ReaderAt contract allows.
type eofWithLastBytes struct{ data []byte }

func (e eofWithLastBytes) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(e.data).ReadAt(p, off)
	if err == nil && off+int64(n) == int64(len(e.data)) {
		err = io.EOF
	}
	return n, err
}

// TestUploadBodyReaderAtEOFWithData: a body whose ReadAt reports io.EOF along
// with the last bytes uploads fine, over http and to file://.
func TestUploadBodyReaderAtEOFWithData(t *testing.T) {
	data := testData(300 << 10)
	var rc recorder
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { rc.record(r) })
	req := putReq(srv.URL, data)
	req.Body = eofWithLastBytes{data}
	if err := fastClient().Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := rc.all(); len(got) != 1 || !bytes.Equal(got[0].body, data) {
		t.Fatalf("server got %d requests", len(got))
	}
	root := t.TempDir()
	freq := fileReq(root, filepath.Join(root, "p"), data)
	freq.Body = eofWithLastBytes{data}
	if err := NewClient().Upload(context.Background(), freq); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "p")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file upload: %v", err)
	}
}

// TestUploadEarlyAnswerHashesOnlySizeBytes: when the server answers after
// reading part of the body, the rest is hashed from Body — exactly up to
// Size, even when Body holds more bytes than that.
func TestUploadEarlyAnswerHashesOnlySizeBytes(t *testing.T) {
	data := testData(32 << 20)
	src := append(append([]byte(nil), data...), "trailing bytes past Size"...)
	var read atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.CopyN(io.Discard, r.Body, 64<<10)
		read.Store(n)
		// Answer without reading on, and close: the client stops sending
		// far short of 32 MiB. The server then keeps reading what is still
		// in flight, so its close never resets the connection under an
		// answer the client has not read yet (a reset drops it, and the
		// client could only retry).
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		w.Header().Set("Content-Length", "0")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
		_, _ = io.Copy(io.Discard, r.Body)
	})
	req := putReq(srv.URL, data)
	req.Body = bytes.NewReader(src)
	if err := fastClient().Upload(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if read.Load() != 64<<10 {
		t.Fatalf("server read %d bytes", read.Load())
	}
}
