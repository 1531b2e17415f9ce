package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
)

// Ranged downloads.
const (
	// RangeChunk is the size of one range of a parallel download.
	RangeChunk = 16 << 20
	// RangedMin is the smallest download fetched in parallel ranges.
	RangedMin = 4 * RangeChunk
)

// rangedWanted reports whether r is fetched in parallel ranges: an http(s)
// source of a known size of at least RangedMin, with Parallel > 1.
func rangedWanted(r DownloadRequest, u *url.URL) bool {
	return r.Parallel > 1 && r.ExpectedSize >= RangedMin && (u.Scheme == "https" || u.Scheme == "http")
}

// rangedRun is one parallel ranged download in progress: chunks are
// fetched by several workers straight into Dest (WriteAt); one hasher
// reads Dest back in order as the chunks complete, so the digest covers
// exactly the bytes in the file, every one of them, and costs no memory
// beyond a buffer.
type rangedRun struct {
	c    *Client
	hc   *http.Client
	r    DownloadRequest
	u    *url.URL
	etag string // strong ETag of the probe's answer, for If-Match
	n    int    // chunks

	mu     sync.Mutex
	done   []bool
	change chan struct{} // closed and replaced when a chunk completes
	moved  atomic.Int64
	prog   *progress
}

// downloadRanged tries a parallel ranged download. It probes with a range
// request for the first chunk; a server that does not answer it with 206
// and the expected total size gets the sequential download instead
// (handled false, nothing written). Otherwise the chunks go to r.Parallel
// workers, each retried (and resumed within its range) under the client's
// RetryPolicy, every request naming the probe's ETag in If-Match so all
// ranges come from one version of the object.
func (c *Client) downloadRanged(ctx context.Context, hc *http.Client, r DownloadRequest, u *url.URL) (DownloadResult, bool, error) {
	size := r.ExpectedSize
	run := &rangedRun{c: c, hc: hc, r: r, u: u, n: int((size + RangeChunk - 1) / RangeChunk), change: make(chan struct{}), prog: newProgress(r.Progress, size)}
	run.done = make([]bool, run.n)
	if err := r.Dest.Truncate(0); err != nil {
		return DownloadResult{}, false, errcode.Wrap(errcode.IOError, err, "truncating %s", r.Dest.Name())
	}
	resp, cancelProbe, ok := run.probe(ctx)
	if !ok {
		return DownloadResult{}, false, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	fail := func(err error) { once.Do(func() { first = err; cancel(err) }) }

	// The probe's body is chunk 0.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancelProbe()
		got, err := run.copyBody(ctx, resp.Body, 0, 0, run.chunkLen(0), nil)
		resp.Body.Close()
		if err == nil && got != run.chunkLen(0) {
			err = errcode.New(errcode.SizeMismatch, "range 0 ended after %d of %d bytes", got, run.chunkLen(0))
		}
		if err != nil {
			// Retry the rest of chunk 0 like any other chunk.
			err = run.fetch(ctx, 0, got)
		}
		if err != nil {
			fail(err)
			return
		}
		run.complete(0)
	}()
	queue := make(chan int, run.n)
	for i := 1; i < run.n; i++ {
		queue <- i
	}
	close(queue)
	for range min(r.Parallel-1, run.n-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				if ctx.Err() != nil {
					return
				}
				if err := run.fetch(ctx, i, 0); err != nil {
					fail(err)
					return
				}
				run.complete(i)
			}
		}()
	}
	sum, herr := run.hash(ctx)
	if herr != nil {
		fail(herr)
	}
	wg.Wait()
	if first != nil {
		return DownloadResult{}, true, first
	}
	run.prog.final(size)
	return DownloadResult{SHA256: "sha256:" + sum, Size: size}, true, nil
}

func (run *rangedRun) chunkLen(i int) int64 {
	return min(RangeChunk, run.r.ExpectedSize-int64(i)*RangeChunk)
}

// request builds a GET of bytes [from, to] of the source.
func (run *rangedRun) request(ctx context.Context, from, to int64) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, run.u.String(), nil)
	if err != nil {
		return nil, errcode.Wrap(errcode.DownloadFailed, err, "building download request")
	}
	if run.u.Scheme == "https" {
		applyAdapterHeaders(req.Header, run.r.Target.Headers)
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
	if run.etag != "" {
		req.Header.Set("If-Match", run.etag)
	}
	return req, nil
}

// probe asks for chunk 0. ok is false when the answer is not a 206 of the
// expected object size (the caller then downloads sequentially).
func (run *rangedRun) probe(ctx context.Context) (*http.Response, context.CancelFunc, bool) {
	pctx, cancel := context.WithCancel(ctx)
	req, err := run.request(pctx, 0, run.chunkLen(0)-1)
	if err != nil {
		cancel()
		return nil, nil, false
	}
	resp, err := run.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, false
	}
	start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
	if resp.StatusCode != http.StatusPartialContent || !ok || start != 0 || end != run.chunkLen(0)-1 || total != run.r.ExpectedSize ||
		(resp.ContentLength >= 0 && resp.ContentLength != run.chunkLen(0)) {
		resp.Body.Close()
		cancel()
		return nil, nil, false
	}
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		run.etag = et
	}
	return resp, cancel, true
}

// fetch downloads chunk i from offset have (within the chunk) on, retrying
// and resuming within the chunk.
func (run *rangedRun) fetch(ctx context.Context, i int, have int64) error {
	base := int64(i) * RangeChunk
	length := run.chunkLen(i)
	return retry.Do(ctx, run.c.retryPolicy(), func(int) error {
		if have >= length {
			return nil
		}
		actx, wd := startWatchdog(ctx, run.c.stallTimeout())
		defer wd.stop()
		req, err := run.request(actx, base+have, base+length-1)
		if err != nil {
			return err
		}
		what := "downloading from " + run.u.Host
		resp, err := run.hc.Do(req)
		if err != nil {
			return networkError(ctx, actx, errcode.DownloadFailed, what, unwrapURLError(err))
		}
		defer drainClose(resp.Body)
		wd.touch()
		switch resp.StatusCode {
		case http.StatusPartialContent:
		case http.StatusPreconditionFailed:
			return errcode.New(errcode.DownloadFailed, "the pack changed on the remote during the download (ETag %s no longer matches)", run.etag)
		default:
			if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
				return errcode.New(errcode.DownloadFailed, "download failed with status %d (redirect not followed)", resp.StatusCode)
			}
			if resp.StatusCode/100 == 2 {
				return errcode.New(errcode.DownloadFailed, "server answered %d to a range request it answered with 206 before", resp.StatusCode)
			}
			return statusError(resp, errcode.DownloadFailed, "download", run.r.Target, time.Now())
		}
		start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != base+have || end != base+length-1 || total != run.r.ExpectedSize {
			return &transient{Err: errcode.New(errcode.NetworkError, "range answer %q is not bytes %d-%d", resp.Header.Get("Content-Range"), base+have, base+length-1)}
		}
		got, err := run.copyBody(ctx, resp.Body, i, have, length, wd.touch)
		have += got
		if err != nil {
			return networkError(ctx, actx, errcode.DownloadFailed, what+": reading body", err)
		}
		if have != length {
			return &transient{Err: errcode.New(errcode.NetworkError, "range of chunk %d ended after %d of %d bytes", i, have, length)}
		}
		return nil
	})
}

// copyBody writes body into chunk i from offset off (within the chunk), at
// most length-off bytes; it returns how many it wrote. A body longer than
// its range is an error.
func (run *rangedRun) copyBody(ctx context.Context, body io.Reader, i int, off, length int64, touch func()) (int64, error) {
	if touch == nil {
		touch = func() {}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	base := int64(i) * RangeChunk
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		want := min(int64(len(buf)), length-off-n)
		if want == 0 {
			var one [1]byte
			if m, _ := body.Read(one[:]); m > 0 {
				return n, errcode.New(errcode.SizeMismatch, "range of chunk %d is longer than %d bytes", i, length)
			}
			return n, nil
		}
		m, rerr := fill(body, buf[:want], touch)
		if m > 0 {
			if _, err := run.r.Dest.WriteAt(buf[:m], base+off+n); err != nil {
				return n, &permanent{Err: errcode.Wrap(errcode.IOError, err, "writing %s", run.r.Dest.Name())}
			}
			n += int64(m)
			run.prog.report(run.moved.Add(int64(m)))
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// complete marks chunk i as all there and starts its write-out to disk
// (writeOut): the fsync before the pack is used then waits only for the
// chunks that completed last, instead of the whole file after the pass.
func (run *rangedRun) complete(i int) {
	startWriteOut(run.r.Dest, int64(i)*RangeChunk, run.chunkLen(i))
	run.mu.Lock()
	run.done[i] = true
	close(run.change)
	run.change = make(chan struct{})
	run.mu.Unlock()
}

// hash reads Dest back in order, chunk by chunk as each completes, and
// returns the hex SHA-256 of the whole file.
func (run *rangedRun) hash(ctx context.Context) (string, error) {
	h := sha256.New()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for i := 0; i < run.n; i++ {
		for {
			run.mu.Lock()
			ok, ch := run.done[i], run.change
			run.mu.Unlock()
			if ok {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return "", ctxError(ctx, nil)
			}
		}
		sec := io.NewSectionReader(run.r.Dest, int64(i)*RangeChunk, run.chunkLen(i))
		if _, err := io.CopyBuffer(h, sec, buf); err != nil {
			return "", errcode.Wrap(errcode.IOError, err, "reading %s back", run.r.Dest.Name())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
