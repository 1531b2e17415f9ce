package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
)

// MaxDownloadSize caps a download whose size was not announced.
const MaxDownloadSize int64 = 4 << 30

// maxRedirects is how many redirects a download follows.
const maxRedirects = 5

// DownloadRequest describes one download into Dest, an empty temp file the
// caller created (and removes on failure). ExpectedSize > 0 is the size
// pull.prepare announced: a body of any other size fails with SizeMismatch.
type DownloadRequest struct {
	Target       Target
	Policy       Policy
	Dest         *os.File
	ExpectedSize int64
	Progress     func(written, total int64)
	// Parallel > 1 fetches an http(s) download of a known size of at least
	// RangedMin in ranges of RangeChunk bytes, Parallel at a time, when the
	// server answers range requests (ranged.go); otherwise, and for
	// file:// sources, the download is one stream.
	Parallel int
}

// DownloadResult is what was written to Dest.
type DownloadResult struct {
	SHA256 string // "sha256:<hex>" of the bytes in Dest
	Size   int64
}

// Download fetches r.Target into r.Dest (truncated first; written with
// WriteAt from offset 0) while hashing. The method must be GET (or empty).
//
// file:// sources are opened under Policy.FileRoot without following symbolic
// links. http(s) sources are fetched with the adapter's headers (https only),
// following at most 5 redirects, each of which must pass the URL policy again
// (file:// never); adapter headers are dropped on a hop to another host or to
// plain http. Bodies larger than ExpectedSize (or MaxDownloadSize when it is
// not known), a Content-Length that disagrees with ExpectedSize and a short
// body are errors (SizeMismatch), never silently cut. An interrupted body is
// resumed with "Range: bytes=N-" when the server answered with
// "Accept-Ranges: bytes" (and If-Range with its ETag); an answer that does not
// match the range restarts from 0. Retries follow the client's RetryPolicy;
// a resumed download that keeps moving (1 MiB or more per round) gets a new
// attempt budget up to 4 times. On error Dest holds partial data. Dest must
// not be opened with O_APPEND.
func (c *Client) Download(ctx context.Context, r DownloadRequest) (DownloadResult, error) {
	if r.Target.Method != "" && r.Target.Method != http.MethodGet {
		return DownloadResult{}, errcode.New(errcode.DownloadFailed,
			"adapter asked for download method %q; only GET is allowed", r.Target.Method)
	}
	if r.Dest == nil || r.ExpectedSize < 0 {
		return DownloadResult{}, errcode.New(errcode.InvalidInput, "download needs a destination file and a size >= 0")
	}
	u, src, err := checkURL(r.Target.URL, r.Policy)
	if err != nil {
		return DownloadResult{}, err
	}
	limit := MaxDownloadSize
	if r.ExpectedSize > 0 {
		limit = r.ExpectedSize
	}
	s := newSink(r.Dest, limit, r.ExpectedSize, newProgress(r.Progress, r.ExpectedSize))
	defer s.release()
	if err := s.reset(); err != nil {
		return DownloadResult{}, err
	}
	if u.Scheme == "file" {
		err = downloadFile(ctx, r, src, s)
	} else {
		hc := c.downloadClient(r, u)
		if rangedWanted(r, u) {
			if res, handled, err := c.downloadRanged(ctx, hc, r, u); handled {
				return res, err
			}
		}
		err = c.downloadHTTP(ctx, hc, r, u, s)
	}
	s.wait()
	if err != nil {
		return DownloadResult{}, err
	}
	if r.ExpectedSize > 0 && s.n != r.ExpectedSize {
		return DownloadResult{}, errcode.New(errcode.SizeMismatch,
			"download ended after %d bytes; the remote announced %d", s.n, r.ExpectedSize)
	}
	s.prog.final(s.n)
	return DownloadResult{SHA256: "sha256:" + hex.EncodeToString(s.h.Sum(nil)), Size: s.n}, nil
}

// sink writes downloaded bytes at increasing offsets and hashes them. The
// hash of a chunk runs in the background while the next chunk is read and
// written, so callers must fill the buffers from next() in turn. After wait()
// the hash state covers exactly Dest[0:n].
type sink struct {
	dest     *os.File
	h        hash.Hash
	n        int64
	limit    int64
	expected int64
	prog     *progress
	out      writeOut // the disk write-out of what Dest holds, started as it arrives

	idle    chan struct{} // holds a token while no hash is running
	bufs    [2]*[]byte
	turn    int // index next() hands out
	last    int // index next() handed out last
	hashing int // index the background hash reads (-1: none yet)
}

// sinkChunk is how much a sink collects from the network before writing.
const sinkChunk = copyBuf

func newSink(dest *os.File, limit, expected int64, prog *progress) *sink {
	s := &sink{dest: dest, h: sha256.New(), limit: limit, expected: expected, prog: prog,
		idle: make(chan struct{}, 1), hashing: -1}
	s.idle <- struct{}{}
	s.bufs[0], s.bufs[1] = bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	return s
}

// next returns the buffer to fill for the next write (sinkChunk bytes).
func (s *sink) next() []byte {
	if s.turn == s.hashing {
		// Only after a failed write: the buffer may still be hashed.
		s.wait()
	}
	s.last = s.turn
	s.turn ^= 1
	return (*s.bufs[s.last])[:sinkChunk]
}

// wait blocks until the background hash is done.
func (s *sink) wait() {
	<-s.idle
	s.idle <- struct{}{}
}

func (s *sink) release() {
	s.wait()
	bufPool.Put(s.bufs[0])
	bufPool.Put(s.bufs[1])
}

func (s *sink) reset() error {
	s.wait()
	if err := s.dest.Truncate(0); err != nil {
		return errcode.Wrap(errcode.IOError, err, "truncating %s", s.dest.Name())
	}
	s.h.Reset()
	s.n, s.out = 0, writeOut{}
	return nil
}

// write stores p (a buffer from next) at the current offset and starts
// hashing it.
func (s *sink) write(p []byte) error {
	if s.n+int64(len(p)) > s.limit {
		if s.expected > 0 {
			return errcode.New(errcode.SizeMismatch, "download is larger than the %d bytes the remote announced", s.expected)
		}
		return errcode.New(errcode.SizeMismatch, "download is larger than the %d byte cap", s.limit)
	}
	if _, err := s.dest.WriteAt(p, s.n); err != nil {
		return errcode.Wrap(errcode.IOError, err, "writing %s", s.dest.Name())
	}
	<-s.idle
	s.hashing = s.last
	go func() {
		s.h.Write(p)
		s.idle <- struct{}{}
	}()
	s.n += int64(len(p))
	// The pulled file is fsynced before it is renamed into place.
	s.out.wrote(s.dest, s.n)
	s.prog.report(s.n)
	return nil
}

// fill reads from r into buf until it is full, r fails or ends; each read
// that moves bytes calls touch.
func fill(r io.Reader, buf []byte, touch func()) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if m > 0 {
			n += m
			touch()
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// downloadFile implements file:// downloads.
func downloadFile(ctx context.Context, r DownloadRequest, src string, s *sink) error {
	rel, err := relToRoot(r.Policy.FileRoot, src)
	if err != nil {
		return err
	}
	if rel == "." {
		return errcode.New(errcode.DownloadFailed, "file:// download source is file_root itself, not a file")
	}
	dirRel, name := filepath.Split(rel)
	d, err := openRootDir(r.Policy, dirRel, false)
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := d.OpenFile(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "inspecting %s", src)
	}
	if r.ExpectedSize > 0 && st.Size() != r.ExpectedSize {
		return errcode.New(errcode.SizeMismatch, "%s holds %d bytes; the remote announced %d", src, st.Size(), r.ExpectedSize)
	}
	if r.ExpectedSize == 0 {
		s.prog.setTotal(st.Size())
	}
	for {
		if err := ctx.Err(); err != nil {
			return ctxError(ctx, nil)
		}
		buf := s.next()
		n, rerr := fill(f, buf, func() {})
		if n > 0 {
			if err := s.write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return errcode.Wrap(errcode.IOError, rerr, "reading %s", src)
		}
	}
}

// downloadClient is the client's HTTP client with the download redirect
// policy: at most maxRedirects, each passing the URL policy again, adapter
// headers dropped on a hop to another host or to plain http.
func (c *Client) downloadClient(r DownloadRequest, u *url.URL) *http.Client {
	hc := *c.httpClient()
	redirectPolicy := Policy{AllowLoopbackHTTP: r.Policy.AllowLoopbackHTTP}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return errcode.New(errcode.DownloadFailed, "download stopped after %d redirects", maxRedirects)
		}
		if _, _, err := checkURL(req.URL.String(), redirectPolicy); err != nil {
			return errcode.Wrap(errcode.URLNotAllowed, err, "download redirected to a URL the policy refuses")
		}
		if req.URL.Scheme != "https" || req.URL.Host != u.Host {
			for k := range r.Target.Headers {
				if !reservedHeader(k) {
					req.Header.Del(k)
				}
			}
		}
		return nil
	}
	return &hc
}

// downloadHTTP implements http(s) downloads with retries and Range resume.
func (c *Client) downloadHTTP(ctx context.Context, hc *http.Client, r DownloadRequest, u *url.URL, s *sink) error {
	st := &dlState{}
	// A resumable download that keeps making progress gets a fresh attempt
	// budget (a few times), so a long transfer over a flaky link finishes.
	for round := 1; ; round++ {
		before := s.n
		err := retry.Do(ctx, c.retryPolicy(), func(int) error {
			return c.downloadOnce(ctx, hc, r, u, s, st)
		})
		if err == nil || ctx.Err() != nil || round >= maxResumeRounds || !st.canResume || s.n-before < minRoundProgress {
			return err
		}
		if ok, _ := retry.Check(err); !ok {
			return err
		}
	}
}

// maxResumeRounds bounds how often the retry budget is renewed for a
// download that resumes and makes progress; minRoundProgress is the progress
// a round must make to earn a new one.
const (
	maxResumeRounds  = 4
	minRoundProgress = 1 << 20
)

// dlState is what one attempt learns for the next.
type dlState struct {
	canResume bool   // the server said Accept-Ranges: bytes
	etag      string // strong ETag of the full answer, for If-Range
}

func (c *Client) downloadOnce(ctx context.Context, hc *http.Client, r DownloadRequest, u *url.URL, s *sink, st *dlState) error {
	actx, wd := startWatchdog(ctx, c.stallTimeout())
	defer wd.stop()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return errcode.Wrap(errcode.DownloadFailed, err, "building download request")
	}
	if u.Scheme == "https" {
		applyAdapterHeaders(req.Header, r.Target.Headers)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resuming := false
	if s.n > 0 {
		if st.canResume {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.n))
			if st.etag != "" {
				req.Header.Set("If-Range", st.etag)
			}
			resuming = true
		} else if err := s.reset(); err != nil {
			return err
		}
	}
	what := "downloading from " + u.Host
	resp, err := hc.Do(req)
	if err != nil {
		return networkError(ctx, actx, errcode.DownloadFailed, what, unwrapURLError(err))
	}
	defer drainClose(resp.Body)
	wd.touch()

	switch resp.StatusCode {
	case http.StatusOK:
		if resuming {
			// The server ignored the range (or the object changed): start over.
			if err := s.reset(); err != nil {
				return err
			}
		}
		st.canResume = strings.EqualFold(strings.TrimSpace(resp.Header.Get("Accept-Ranges")), "bytes")
		st.etag = ""
		if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			st.etag = et
		}
		if resp.ContentLength >= 0 {
			if r.ExpectedSize > 0 && resp.ContentLength != r.ExpectedSize {
				return errcode.New(errcode.SizeMismatch,
					"server announced %d bytes (Content-Length); the remote announced %d", resp.ContentLength, r.ExpectedSize)
			}
			if resp.ContentLength > s.limit {
				return errcode.New(errcode.SizeMismatch, "server announced %d bytes, over the %d byte cap", resp.ContentLength, s.limit)
			}
			if r.ExpectedSize == 0 {
				s.prog.setTotal(resp.ContentLength)
			}
		}
	case http.StatusPartialContent:
		if !resuming {
			return errcode.New(errcode.DownloadFailed, "server answered 206 Partial Content to a plain GET")
		}
		start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		okRange := ok && start == s.n && end >= start &&
			(total < 0 || end < total) &&
			(total < 0 || r.ExpectedSize <= 0 || total == r.ExpectedSize) &&
			(resp.ContentLength < 0 || resp.ContentLength == end-start+1)
		if !okRange {
			st.canResume = false
			if err := s.reset(); err != nil {
				return err
			}
			return &transient{Err: errcode.New(errcode.NetworkError,
				"range answer %q does not continue at byte %d; restarting", resp.Header.Get("Content-Range"), s.n)}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if resuming {
			st.canResume = false
			if err := s.reset(); err != nil {
				return err
			}
			return &transient{Err: errcode.New(errcode.NetworkError, "server refused to resume at byte %d; restarting", s.n)}
		}
		return statusError(resp, errcode.DownloadFailed, "download", r.Target, time.Now())
	default:
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			return errcode.New(errcode.DownloadFailed, "download failed with status %d (redirect not followed)", resp.StatusCode)
		}
		return statusError(resp, errcode.DownloadFailed, "download", r.Target, time.Now())
	}

	for {
		buf := s.next()
		n, rerr := fill(resp.Body, buf, wd.touch)
		if n > 0 {
			if err := s.write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return networkError(ctx, actx, errcode.DownloadFailed, what+": reading body", rerr)
		}
		if err := ctx.Err(); err != nil {
			return ctxError(ctx, nil)
		}
	}
}

// parseContentRange parses "bytes start-end/total" (total may be "*", then -1).
func parseContentRange(h string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if tot != "*" {
		total, err3 = strconv.ParseInt(tot, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < 0 || (tot != "*" && total < 0) {
		return 0, 0, 0, false
	}
	return start, end, total, true
}
