package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
)

// UploadRequest describes one upload. Body is read from offset 0 to Size as
// many times as attempts need; SHA256 ("sha256:<hex>") is the digest the
// caller verified, and the upload fails with DigestMismatch when the bytes
// read from Body hash differently.
type UploadRequest struct {
	Target   Target
	Policy   Policy
	Body     io.ReaderAt
	Size     int64
	SHA256   string
	Progress func(written, total int64)
	// Staged, when set, is a copy of Body already written under FileRoot;
	// a file:// upload renames it into place instead of copying Body again
	// (used only if its recorded digest and size equal SHA256 and Size).
	Staged *Staged
}

// expectContinueMin is the body size from which uploads ask the server to
// accept the request before the body is sent (saves sending a large body to
// an expired URL).
const expectContinueMin = 1 << 20

// Upload sends r.Body to r.Target. Method "skip" does nothing (the caller
// normally handles it). Otherwise the method must be PUT or POST.
//
// file:// URLs: the destination folder is reached from Policy.FileRoot without
// following symbolic links (missing folders are created 0755), the bytes go
// to a temp file there, are hashed, fsynced and renamed over the destination
// (mode 0644). On any failure nothing is left at the destination.
//
// http(s) URLs: one request per attempt with Content-Length = Size and the
// adapter's headers — except over plain http (loopback only), where the
// adapter's headers are never sent because they may carry credentials.
// Redirects are never followed: a 3xx is an UploadFailed error naming the
// Location. 2xx is success, provided the bytes sent hash to SHA256 (else
// DigestMismatch). 408, 429, 500, 502, 503, 504 and connection errors are
// retried with the client's RetryPolicy, resending the body from offset 0; a
// 400/401/403 for an expired URL is URLExpired. A 412 Precondition Failed on a
// retry counts as success: a one-shot URL (If-None-Match: *) refuses the
// second PUT when the first one was stored but its answer was lost; the
// registry verifies the stored bytes at finalize.
func (c *Client) Upload(ctx context.Context, r UploadRequest) error {
	switch r.Target.Method {
	case "skip":
		return nil
	case http.MethodPut, http.MethodPost:
	default:
		return errcode.New(errcode.UploadFailed, "adapter asked for upload method %q; only PUT and POST are allowed", r.Target.Method).
			WithHint("the remote adapter returned an invalid upload instruction; report it to the adapter's maintainers")
	}
	want, err := parseSHA256(r.SHA256)
	if err != nil {
		return err
	}
	if r.Body == nil || r.Size < 0 {
		return errcode.New(errcode.InvalidInput, "upload needs a body and a size >= 0")
	}
	u, dest, err := checkURL(r.Target.URL, r.Policy)
	if err != nil {
		return err
	}
	if u.Scheme == "file" {
		return uploadFile(ctx, r, dest, want)
	}
	return c.uploadHTTP(ctx, r, u, want)
}

func parseSHA256(s string) (string, error) {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hexPart) != 64 {
		return "", errcode.New(errcode.InvalidInput, "digest %q is not sha256:<64 hex>", s)
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", errcode.New(errcode.InvalidInput, "digest %q is not sha256:<64 hex>", s)
	}
	return strings.ToLower(hexPart), nil
}

func digestMismatch(want, got string) error {
	return &permanent{Err: errcode.New(errcode.DigestMismatch,
		"uploaded bytes do not match the verified pack: expected sha256:%s, sent sha256:%s", want, got).
		WithHint("the pack file changed while it was being pushed; push it again")}
}

// uploadFile implements file:// uploads.
func uploadFile(ctx context.Context, r UploadRequest, dest, want string) error {
	rel, err := relToRoot(r.Policy.FileRoot, dest)
	if err != nil {
		return err
	}
	if rel == "." {
		return errcode.New(errcode.UploadFailed, "file:// upload destination is file_root itself, not a file")
	}
	dirRel, name := filepath.Split(rel)
	d, err := openRootDir(r.Policy, dirRel, true)
	if err != nil {
		return err
	}
	defer d.Close()
	// Fail before copying when the destination is a link or a folder
	// (Commit checks again at rename time).
	if m, err := d.Lstat(name); err == nil {
		if m&fs.ModeSymlink != 0 {
			return errcode.New(errcode.SymlinkNotAllowed, "upload destination %s is a symbolic link", dest).
				WithHint("epack never writes through links; remove the link under file_root")
		}
		if m.IsDir() {
			return errcode.New(errcode.UploadFailed, "upload destination %s is a folder", dest)
		}
	}
	if r.Staged != nil {
		// Any failure to use the staged copy (another file system under
		// file_root, say) falls back to the normal copy below.
		if used, err := r.Staged.commitTo(d, name, want, r.Size); used && err == nil {
			newProgress(r.Progress, r.Size).final(r.Size)
			return nil
		}
	}
	tmp, err := d.CreateTemp(".epack-upload-*.part")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			_ = d.Remove(filepath.Base(tmp.Name()))
		}
	}()
	prog := newProgress(r.Progress, r.Size)
	sum, n, err := copyHashed(ctx, tmp, io.NewSectionReader(r.Body, 0, r.Size), prog)
	if err != nil {
		return err
	}
	if n != r.Size {
		return errcode.New(errcode.SizeMismatch, "pack body ended after %d of %d bytes", n, r.Size)
	}
	if sum != want {
		return digestMismatch(want, sum)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return errcode.Wrap(errcode.IOError, err, "setting mode of %s", tmp.Name())
	}
	committed = true // Commit removes the temp itself on failure.
	if err := d.Commit(tmp, name, true); err != nil {
		return err
	}
	prog.final(n)
	return nil
}

// rootHint adds a hint when file_root itself is missing.
func rootHint(root string, err error) error {
	var ce *errcode.Error
	if _, serr := os.Lstat(root); errors.Is(serr, fs.ErrNotExist) && errors.As(err, &ce) && ce.Hint == "" {
		ce.Hint = fmt.Sprintf("transport.file_root %q must be an existing folder", root)
	}
	return err
}

// copyBuf is the chunk size for local copies.
const copyBuf = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

// copyHashed copies src to dst, hashing the bytes, checking ctx between
// chunks and reporting progress. Hashing runs beside the write of the same
// chunk, so the copy costs about max(hash, write) rather than their sum.
func copyHashed(ctx context.Context, dst io.Writer, src io.Reader, prog *progress) (string, int64, error) {
	h := sha256.New()
	bp1, bp2 := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	defer bufPool.Put(bp1)
	defer bufPool.Put(bp2)
	bufs := [2][]byte{*bp1, *bp2}
	hashed := make(chan struct{}, 1)
	hashed <- struct{}{}
	var n int64
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			<-hashed
			return "", n, ctxError(ctx, nil)
		}
		buf := bufs[i%2]
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			<-hashed // the previous chunk's hash is done; h is free
			chunk := buf[:m]
			go func() { h.Write(chunk); hashed <- struct{}{} }()
			if _, err := dst.Write(chunk); err != nil {
				<-hashed
				return "", n, errcode.Wrap(errcode.IOError, err, "writing")
			}
			n += int64(m)
			prog.report(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			<-hashed
			return "", n, errcode.Wrap(errcode.IOError, rerr, "reading")
		}
	}
	<-hashed
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// uploadHTTP implements http(s) uploads.
func (c *Client) uploadHTTP(ctx context.Context, r UploadRequest, u *url.URL, want string) error {
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	prog := newProgress(r.Progress, r.Size)
	return retry.Do(ctx, c.retryPolicy(), func(attempt int) error {
		return c.uploadOnce(ctx, &hc, r, u, want, prog, attempt > 1)
	})
}

func (c *Client) uploadOnce(ctx context.Context, hc *http.Client, r UploadRequest, u *url.URL, want string, prog *progress, retrying bool) error {
	actx, wd := startWatchdog(ctx, c.stallTimeout())
	defer wd.stop()
	body := &sendBody{src: r.Body, size: r.Size, wd: wd, prog: prog}
	req, err := http.NewRequestWithContext(actx, r.Target.Method, u.String(), nil)
	if err != nil {
		return errcode.Wrap(errcode.UploadFailed, err, "building upload request")
	}
	req.ContentLength = r.Size
	if r.Size == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	} else {
		req.Body = body.reader()
		req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	}
	if u.Scheme == "https" {
		applyAdapterHeaders(req.Header, r.Target.Headers)
	}
	if r.Size >= expectContinueMin {
		req.Header.Set("Expect", "100-continue")
	}
	what := "uploading to " + u.Host
	resp, err := hc.Do(req)
	if err != nil {
		return networkError(ctx, actx, errcode.UploadFailed, what, unwrapURLError(err))
	}
	defer drainClose(resp.Body)
	wd.touch()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299,
		resp.StatusCode == http.StatusPreconditionFailed && retrying:
		sum, err := body.finish()
		if err != nil {
			return err
		}
		if sum != want {
			return digestMismatch(want, sum)
		}
		prog.final(r.Size)
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		loc := resp.Header.Get("Location")
		if lu, err := u.Parse(loc); err == nil {
			loc = redact(lu)
		}
		return errcode.New(errcode.UploadFailed,
			"upload URL answered %d redirecting to %q; redirects are never followed for uploads", resp.StatusCode, loc).
			WithHint("the remote must hand out the final upload URL")
	}
	return statusError(resp, errcode.UploadFailed, "upload", r.Target, time.Now())
}

// unwrapURLError drops net/http's *url.Error wrapper, whose message repeats
// the full URL (presigned URLs carry credentials in the query).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// sendBody hands net/http readers over the upload body, each from offset 0,
// hashing exactly what is read. Only the newest reader is live, so a
// transport-internal rewind (GetBody) restarts the hash too.
type sendBody struct {
	src  io.ReaderAt
	size int64
	wd   *watchdog
	prog *progress
	// noHash: the store checks these bytes itself (multipart parts), so
	// they are not hashed on the way out; finish then returns "".
	noHash bool

	mu  sync.Mutex
	cur *sendReader
}

type sendReader struct {
	parent *sendBody
	off    int64
	h      hash.Hash
	done   bool
}

var errSuperseded = errors.New("upload body superseded")

func (s *sendBody) reader() io.ReadCloser {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.done = true
	}
	s.cur = &sendReader{parent: s}
	if !s.noHash {
		s.cur.h = sha256.New()
	}
	return s.cur
}

func (r *sendReader) Read(p []byte) (int, error) {
	s := r.parent
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.done {
		return 0, errSuperseded
	}
	remaining := s.size - r.off
	if remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > remaining {
		p = p[:remaining]
	}
	n, err := s.src.ReadAt(p, r.off)
	if n > 0 {
		if r.h != nil {
			r.h.Write(p[:n])
		}
		r.off += int64(n)
		s.wd.touch()
		s.prog.report(r.off)
	}
	if err == io.EOF {
		if r.off < s.size {
			return n, errcode.New(errcode.SizeMismatch, "pack body ended after %d of %d bytes", r.off, s.size)
		}
		err = nil
	}
	if err != nil {
		return n, &permanent{Err: errcode.Wrap(errcode.IOError, err, "reading the pack")}
	}
	return n, nil
}

func (r *sendReader) Close() error { return nil }

// finish stops the live reader and returns the hex SHA-256 of the whole body
// as read from src: what was sent, completed with any tail the server did not
// read before answering.
func (s *sendBody) finish() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cur
	if r == nil {
		r = &sendReader{parent: s, h: sha256.New()}
	}
	r.done = true
	if s.noHash {
		return "", nil
	}
	if r.off < s.size {
		n, err := io.Copy(r.h, io.NewSectionReader(s.src, r.off, s.size-r.off))
		if err != nil {
			return "", &permanent{Err: errcode.Wrap(errcode.IOError, err, "reading the pack")}
		}
		if r.off+n != s.size {
			return "", errcode.New(errcode.SizeMismatch, "pack body ended after %d of %d bytes", r.off+n, s.size)
		}
	}
	return hex.EncodeToString(r.h.Sum(nil)), nil
}
