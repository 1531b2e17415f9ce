package transfer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
	"github.com/evidencerelay/epack/protocol"
)

// PartsRequest is what is left of a multipart upload: every part of the
// pack with the checksums computed from the verified bytes, the parts the
// store already holds, and how to get upload targets.
type PartsRequest struct {
	Policy   Policy
	Body     io.ReaderAt
	PartSize int64
	// Parts are all parts of the pack, numbered 1…n in order.
	Parts []protocol.PartChecksum
	// Skip holds the parts the store already has (a resumed upload).
	Skip map[int]bool
	// Targets are upload targets handed out already (push.prepare).
	Targets []protocol.PartTarget
	// Fetch returns targets for the given parts (push.parts); it is asked
	// for at most Batch at once and for fresh ones when a target expired.
	Fetch func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error)
	// Batch bounds one Fetch (0: 100).
	Batch int
	// Parallel is how many parts are sent at once (0: DefaultParallel). It
	// is lowered while the store answers 429 or 503, and raised again by
	// one after every 8 parts in a row it took.
	Parallel int
	// OnPart is called, never concurrently, after the store took a part.
	OnPart func(p protocol.PartChecksum)
	// Progress gets the bytes the store holds (skipped parts included) and
	// the pack's size.
	Progress func(written, total int64)
	// RehashParts hashes each part's bytes again as they are sent and
	// fails with DigestMismatch when they are not the checksummed bytes.
	// A store that checks every part against its checksums (and an adapter
	// that checks the completed object against them, as ours do) makes
	// this a second check of the same thing; it is for stores that do not.
	RehashParts bool
}

// PartsResult says what one UploadParts call moved.
type PartsResult struct {
	// BytesSent is the size of the parts sent (and taken) in this call.
	BytesSent int64
	// BytesSkipped is the size of the parts the store already had.
	BytesSkipped int64
	// Throttled counts 429/503 answers; MinParallel is the lowest
	// parallelism they brought the upload down to.
	Throttled   int
	MinParallel int
}

// partsBatchDefault is the Fetch batch when PartsRequest.Batch is 0.
const partsBatchDefault = 100

// targetSlack: a target expiring this soon is replaced before use.
const targetSlack = 30 * time.Second

// UploadParts sends every part not in Skip to its target, Parallel at a
// time. Each part is a PUT with Content-Length and the part's
// x-amz-checksum-sha256 and Content-MD5 (when it has an MD5; computed by
// the caller from the verified bytes;
// sent over plain http too, unlike the adapter's headers), so the store
// refuses other bytes (with RehashParts the bytes actually read are also
// hashed again, and a part whose SHA-256 differs from its checksum fails
// with DigestMismatch: the file changed). A target URL must pass the URL policy (http(s) only:
// parts never go to file://). 408, 429, 5xx and connection errors are
// retried with the client's RetryPolicy per part; 429 and 503 also lower
// the parallelism. An expired target is replaced through Fetch. The first
// part that fails for good stops the others.
func (c *Client) UploadParts(ctx context.Context, r PartsRequest) (PartsResult, error) {
	var res PartsResult
	if r.PartSize <= 0 || len(r.Parts) == 0 || r.Body == nil {
		return res, errcode.New(errcode.InvalidInput, "multipart upload needs a body, a part size and parts")
	}
	var total int64
	for i, p := range r.Parts {
		if p.PartNumber != i+1 {
			return res, errcode.New(errcode.InvalidInput, "part %d is numbered %d", i+1, p.PartNumber)
		}
		total += p.SizeBytes
	}
	u := &partsRun{c: c, r: r, targets: map[int]protocol.PartTarget{}, lim: newAdaptive(r.Parallel)}
	u.prog = newProgress(r.Progress, total)
	u.inflight = map[int]int64{}
	for _, t := range r.Targets {
		u.targets[t.PartNumber] = t
	}
	var todo []int
	for _, p := range r.Parts {
		if r.Skip[p.PartNumber] {
			u.done += p.SizeBytes
			res.BytesSkipped += p.SizeBytes
			continue
		}
		todo = append(todo, p.PartNumber)
	}
	u.prog.report(u.done)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan int, len(todo))
	for _, n := range todo {
		queue <- n
	}
	close(queue)
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	workers := min(u.lim.max, len(todo))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range queue {
				if ctx.Err() != nil {
					return
				}
				if err := u.sendPart(ctx, r.Parts[n-1]); err != nil {
					once.Do(func() { first = err; cancel(err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	res.BytesSent = u.sent
	res.Throttled, res.MinParallel = u.lim.stats()
	if first != nil {
		return res, first
	}
	u.prog.final(total)
	return res, nil
}

// partsRun is one UploadParts call in progress.
type partsRun struct {
	c   *Client
	r   PartsRequest
	lim *adaptive

	fetchMu sync.Mutex // one Fetch at a time
	mu      sync.Mutex
	targets map[int]protocol.PartTarget
	done    int64 // bytes the store holds
	sent    int64
	// inflight is how far each part being sent has got (progress).
	inflight map[int]int64
	prog     *progress
	onPartMu sync.Mutex
}

// sendPart uploads one part: its target (fetched when missing or about to
// expire, and again when the store says it expired), then attempts under
// the retry policy, each holding one slot of the adaptive limit.
func (u *partsRun) sendPart(ctx context.Context, p protocol.PartChecksum) error {
	want, err := b64ToHex(p.SHA256)
	if err != nil {
		return errcode.New(errcode.InvalidInput, "part %d: sha256 %v", p.PartNumber, err)
	}
	refreshed := 0
	for {
		t, err := u.target(ctx, p.PartNumber)
		if err != nil {
			return err
		}
		err = retry.Do(ctx, u.c.retryPolicy(), func(int) error {
			if err := u.lim.acquire(ctx); err != nil {
				return ctxError(ctx, err)
			}
			err := u.partOnce(ctx, t, p, want)
			u.lim.release(err == nil)
			return err
		})
		if err == nil {
			break
		}
		if errcode.Has(err, errcode.URLExpired) && refreshed < 2 {
			refreshed++
			u.mu.Lock()
			delete(u.targets, p.PartNumber)
			u.mu.Unlock()
			continue
		}
		return err
	}
	u.mu.Lock()
	delete(u.inflight, p.PartNumber)
	u.done += p.SizeBytes
	u.sent += p.SizeBytes
	done := u.done
	u.mu.Unlock()
	u.prog.report(done)
	if u.r.OnPart != nil {
		u.onPartMu.Lock()
		u.r.OnPart(p)
		u.onPartMu.Unlock()
	}
	return nil
}

// target returns a usable target for part n, fetching a batch of targets
// (n and the next parts without one) when there is none.
func (u *partsRun) target(ctx context.Context, n int) (protocol.PartTarget, error) {
	if t, ok := u.cached(n); ok {
		return t, nil
	}
	u.fetchMu.Lock()
	defer u.fetchMu.Unlock()
	if t, ok := u.cached(n); ok {
		return t, nil
	}
	if u.r.Fetch == nil {
		return protocol.PartTarget{}, errcode.New(errcode.UploadFailed, "no upload target for part %d", n)
	}
	batch := u.r.Batch
	if batch <= 0 {
		batch = partsBatchDefault
	}
	numbers := []int{n}
	for m := n + 1; m <= len(u.r.Parts) && len(numbers) < batch; m++ {
		if _, ok := u.cached(m); !ok && !u.r.Skip[m] {
			numbers = append(numbers, m)
		}
	}
	got, err := u.r.Fetch(ctx, numbers)
	if err != nil {
		return protocol.PartTarget{}, err
	}
	u.mu.Lock()
	for _, t := range got {
		u.targets[t.PartNumber] = t
	}
	u.mu.Unlock()
	t, ok := u.cached(n)
	if !ok {
		return protocol.PartTarget{}, errcode.New(errcode.ProtocolMismatch, "the adapter gave no upload target for part %d", n)
	}
	return t, nil
}

// cached returns part n's target unless it is missing or expires soon.
func (u *partsRun) cached(n int) (protocol.PartTarget, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.targets[n]
	if !ok {
		return t, false
	}
	if t.ExpiresAt != "" {
		if exp, err := time.Parse(time.RFC3339, t.ExpiresAt); err == nil && time.Until(exp) < targetSlack {
			return t, false
		}
	}
	return t, true
}

// partOnce is one attempt at one part.
func (u *partsRun) partOnce(ctx context.Context, pt protocol.PartTarget, p protocol.PartChecksum, want string) error {
	if pt.Method != http.MethodPut {
		return &permanent{Err: errcode.New(errcode.UploadFailed, "adapter asked for part upload method %q; only PUT is allowed", pt.Method)}
	}
	u0, err := CheckURL(pt.URL, u.r.Policy)
	if err != nil {
		return &permanent{Err: err}
	}
	if u0.Scheme != "https" && u0.Scheme != "http" {
		return &permanent{Err: notAllowed("part upload URL scheme %q: parts go over http(s) only", u0.Scheme)}
	}
	t := Target{Method: pt.Method, URL: pt.URL, Headers: pt.Headers}
	if pt.ExpiresAt != "" {
		t.ExpiresAt, _ = time.Parse(time.RFC3339, pt.ExpiresAt)
	}
	c := u.c
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	actx, wd := startWatchdog(ctx, c.stallTimeout())
	defer wd.stop()
	n := p.PartNumber
	prog := newProgress(func(w, _ int64) { u.partProgress(n, w) }, p.SizeBytes)
	body := &sendBody{src: io.NewSectionReader(u.r.Body, p.Offset(u.r.PartSize), p.SizeBytes), size: p.SizeBytes, wd: wd, prog: prog, noHash: !u.r.RehashParts}
	req, err := http.NewRequestWithContext(actx, http.MethodPut, u0.String(), nil)
	if err != nil {
		return errcode.Wrap(errcode.UploadFailed, err, "building the request for part %d", n)
	}
	req.ContentLength = p.SizeBytes
	if p.SizeBytes == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	} else {
		req.Body = body.reader()
		req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	}
	if u0.Scheme == "https" {
		applyAdapterHeaders(req.Header, pt.Headers)
	}
	// Ours, computed from the verified bytes: sent over plain http too.
	req.Header.Del("Content-MD5")
	if p.MD5 != "" {
		req.Header.Set("Content-MD5", p.MD5)
	}
	req.Header.Set("X-Amz-Checksum-Sha256", p.SHA256)
	if p.SizeBytes >= expectContinueMin {
		req.Header.Set("Expect", "100-continue")
	}
	what := "uploading part " + strconv.Itoa(n) + " to " + u0.Host
	resp, err := hc.Do(req)
	if err != nil {
		u.partProgress(n, 0)
		return networkError(ctx, actx, errcode.UploadFailed, what, unwrapURLError(err))
	}
	defer drainClose(resp.Body)
	wd.touch()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		sum, err := body.finish()
		if err != nil {
			return err
		}
		if u.r.RehashParts && sum != want {
			return &permanent{Err: errcode.New(errcode.DigestMismatch,
				"part %d: the bytes sent do not match the verified pack (sha256 %s, verified %s)", n, sum, want).
				WithHint("the pack file changed while it was being pushed; push it again")}
		}
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		loc := resp.Header.Get("Location")
		if lu, err := u0.Parse(loc); err == nil {
			loc = redact(lu)
		}
		return errcode.New(errcode.UploadFailed, "part %d: upload URL answered %d redirecting to %q; redirects are never followed for uploads", n, resp.StatusCode, loc)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		u.lim.throttle()
	}
	u.partProgress(n, 0)
	err = statusError(resp, errcode.UploadFailed, "upload of part "+strconv.Itoa(n), t, time.Now())
	var ce *errcode.Error
	if errors.As(err, &ce) && ce.Code == errcode.UploadFailed && checksumRefusal(ce.Message) {
		return &permanent{Err: errcode.Wrap(errcode.DigestMismatch, err, "the store refused part %d: its bytes do not match their checksums", n)}
	}
	return err
}

// checksumRefusal reports whether an error body is a store refusing bytes
// for their checksum (S3: BadDigest, InvalidDigest, checksum mismatch).
func checksumRefusal(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "baddigest") || strings.Contains(m, "invaliddigest") ||
		strings.Contains(m, "checksum") && (strings.Contains(m, "mismatch") || strings.Contains(m, "did not match") || strings.Contains(m, "invalid"))
}

// partProgress records how far part n has got and reports the total.
func (u *partsRun) partProgress(n int, written int64) {
	u.mu.Lock()
	u.inflight[n] = written
	sum := u.done
	for _, w := range u.inflight {
		sum += w
	}
	u.mu.Unlock()
	u.prog.report(sum)
}

// adaptive is a concurrency limit that halves on throttling answers and
// grows back by one after raiseAfter successes in a row.
type adaptive struct {
	mu        sync.Mutex
	limit     int
	max       int
	inUse     int
	streak    int
	throttled int
	lowest    int
	wake      chan struct{}
}

// raiseAfter is how many parts in a row must succeed before the limit
// grows by one again.
const raiseAfter = 8

func newAdaptive(n int) *adaptive {
	if n <= 0 {
		n = DefaultParallel
	}
	return &adaptive{limit: n, max: n, lowest: n, wake: make(chan struct{})}
}

func (a *adaptive) acquire(ctx context.Context) error {
	for {
		a.mu.Lock()
		if a.inUse < a.limit {
			a.inUse++
			a.mu.Unlock()
			return nil
		}
		w := a.wake
		a.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *adaptive) release(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse--
	if ok {
		a.streak++
		if a.streak >= raiseAfter && a.limit < a.max {
			a.limit++
			a.streak = 0
		}
	} else {
		a.streak = 0
	}
	close(a.wake)
	a.wake = make(chan struct{})
}

func (a *adaptive) throttle() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.throttled++
	a.limit = max(1, a.limit/2)
	a.lowest = min(a.lowest, a.limit)
	a.streak = 0
}

func (a *adaptive) stats() (throttled, lowest int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.throttled, a.lowest
}
