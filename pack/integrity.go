package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/evidencerelay/epack/errcode"
)

const copyBufSize = 256 << 10

// readBudget is MaxReadBudget; tests lower it.
var readBudget int64 = MaxReadBudget

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// zipReadError classifies an error met while inflating an entry.
func zipReadError(name string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return errcode.Wrap(errcode.DigestMismatch, err, "%s: stored bytes do not match their CRC-32 (altered or corrupt)", name)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errcode.Wrap(errcode.Canceled, err, "%s", name)
	case errors.Is(err, zip.ErrFormat), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &corrupt):
		return errcode.Wrap(errcode.NotAZip, err, "%s: corrupt or truncated ZIP data", name).WithHint("the pack file is damaged; fetch or build it again")
	}
	if _, ok := err.(*errcode.Error); ok {
		return err
	}
	return errcode.Wrap(errcode.IOError, err, "reading %s", name)
}

// lookup returns the manifest artifact and archive entry for path.
func (p *Pack) lookup(path string) (*Artifact, *zip.File, error) {
	i, ok := p.byPath[path]
	if !ok {
		return nil, nil, errcode.New(errcode.MissingEntry, "artifact %q is not listed in the manifest", path)
	}
	f, ok := p.files[path]
	if !ok {
		return nil, nil, errcode.New(errcode.MissingEntry, "artifact %q is missing from the archive", path)
	}
	return &p.manifest.Artifacts[i], f, nil
}

// checkArtifact streams one artifact through SHA-256 (and w, when not nil),
// never reading more than the manifest size plus one byte, then checks the
// size and, in constant time, the digest.
func checkArtifact(ctx context.Context, a *Artifact, f *zip.File, w io.Writer) error {
	if f.UncompressedSize64 != uint64(a.Size) {
		return errcode.New(errcode.SizeMismatch, "artifact %q: archive holds %d bytes, manifest says %d", a.Path, f.UncompressedSize64, a.Size)
	}
	rc, err := f.Open()
	if err != nil {
		return zipReadError(a.Path, err)
	}
	defer rc.Close()
	h := sha256.New()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	n, err := copyChecked(ctx, h, w, io.LimitReader(rc, a.Size+1), *bp)
	if err != nil {
		return zipReadError(a.Path, err)
	}
	if n != a.Size {
		return errcode.New(errcode.SizeMismatch, "artifact %q: read %d bytes, manifest says %d", a.Path, n, a.Size)
	}
	return compareDigest(a, h)
}

func compareDigest(a *Artifact, h hash.Hash) error {
	var sum [sha256.Size]byte
	got := "sha256:" + hex.EncodeToString(h.Sum(sum[:0]))
	if !digestEqual(got, a.Digest) {
		return errcode.New(errcode.DigestMismatch, "artifact %q: digest %s does not match the manifest (%s)", a.Path, got, a.Digest).
			WithHint("the pack was altered after it was built; do not trust its contents")
	}
	return nil
}

// copyChecked copies r into h (and w) with buf, checking ctx between reads.
func copyChecked(ctx context.Context, h hash.Hash, w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			if w != nil {
				if _, werr := w.Write(buf[:k]); werr != nil {
					return n, werr
				}
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// VerifyIntegrity checks every embedded artifact (size, then digest) while
// inflating it, within the read budget (MaxReadBudget), then recomputes pack_digest.
// Artifacts are hashed by a few workers; the error reported is always the
// first failing artifact in manifest order. Memory does not depend on
// artifact or pack size.
func (p *Pack) VerifyIntegrity(ctx context.Context) error {
	arts := p.manifest.Artifacts
	// Budget in manifest order: artifact i may be read only if the sizes
	// up to and including it fit in the budget: the pack's own size plus MaxReadBudget.
	total, budget := int64(0), readBudget+p.size
	limit := len(arts)
	for i := range arts {
		total += arts[i].Size
		if total > budget {
			limit = i
			break
		}
	}
	errs := make([]error, len(arts))
	var (
		mu     sync.Mutex
		next   int
		minErr = len(arts)
	)
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		if next >= limit || next > minErr {
			return -1
		}
		i := next
		next++
		return i
	}
	fail := func(i int, err error) {
		mu.Lock()
		errs[i] = err
		if i < minErr {
			minErr = i
		}
		mu.Unlock()
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > 4 {
		workers = 4
	}
	if workers > limit {
		workers = limit
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := take(); i >= 0; i = take() {
				a := &arts[i]
				if err := checkArtifact(ctx, a, p.files[a.Path], nil); err != nil {
					fail(i, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if limit < len(arts) {
		return errcode.New(errcode.ZipBomb, "artifacts total more than the %d-byte read budget (the pack's %d bytes and %d more)", budget, p.size, readBudget)
	}
	if err := ctx.Err(); err != nil {
		return errcode.Wrap(errcode.Canceled, err, "verification canceled")
	}
	got := ComputePackDigest(arts)
	if !digestEqual(got, p.manifest.PackDigest) {
		return errcode.New(errcode.DigestMismatch, "pack_digest %s does not match the artifact list (%s)", p.manifest.PackDigest, got).
			WithHint("the manifest was altered after the pack was built")
	}
	return nil
}

// ReadArtifact returns the bytes of one artifact after checking its size
// and then its digest against the manifest.
func (p *Pack) ReadArtifact(path string) ([]byte, error) {
	a, f, err := p.lookup(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(min(a.Size, MaxArtifactSize)))
	if err := checkArtifact(context.Background(), a, f, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OpenArtifact streams one artifact. The reader returns the artifact bytes
// and, instead of io.EOF, an error when the size or digest does not match
// the manifest; callers must read to EOF before trusting the data.
func (p *Pack) OpenArtifact(path string) (io.ReadCloser, error) {
	a, f, err := p.lookup(path)
	if err != nil {
		return nil, err
	}
	if f.UncompressedSize64 != uint64(a.Size) {
		return nil, errcode.New(errcode.SizeMismatch, "artifact %q: archive holds %d bytes, manifest says %d", a.Path, f.UncompressedSize64, a.Size)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, zipReadError(path, err)
	}
	return &checkedReader{a: *a, rc: rc, r: io.LimitReader(rc, a.Size+1), h: sha256.New()}, nil
}

type checkedReader struct {
	a   Artifact
	rc  io.ReadCloser
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (c *checkedReader) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	k, err := c.r.Read(b)
	c.h.Write(b[:k])
	c.n += int64(k)
	if c.n > c.a.Size {
		c.err = errcode.New(errcode.SizeMismatch, "artifact %q: more than %d bytes", c.a.Path, c.a.Size)
		return 0, c.err
	}
	switch {
	case err == io.EOF:
		if c.n != c.a.Size {
			c.err = errcode.New(errcode.SizeMismatch, "artifact %q: read %d bytes, manifest says %d", c.a.Path, c.n, c.a.Size)
		} else if derr := compareDigest(&c.a, c.h); derr != nil {
			c.err = derr
		} else {
			c.err = io.EOF
		}
		if c.err != io.EOF {
			return 0, c.err
		}
		return k, io.EOF
	case err != nil:
		c.err = zipReadError(c.a.Path, err)
		return k, c.err
	}
	return k, nil
}

func (c *checkedReader) Close() error { return c.rc.Close() }

// ReadAttestation returns the bytes of one attestation (at most 1 MiB).
func (p *Pack) ReadAttestation(name string) ([]byte, error) {
	if !isAttestationPath(name) {
		return nil, errcode.New(errcode.InvalidPath, "%q is not an attestation path", name)
	}
	f, ok := p.files[name]
	if !ok {
		return nil, errcode.New(errcode.MissingEntry, "attestation %q is not in the pack", name)
	}
	if f.UncompressedSize64 > MaxAttestationSize {
		return nil, errcode.New(errcode.AttestationTooLarge, "attestation %q is %d bytes (limit %d)", name, f.UncompressedSize64, MaxAttestationSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, zipReadError(name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxAttestationSize+1))
	if err != nil {
		return nil, zipReadError(name, err)
	}
	if len(b) > MaxAttestationSize {
		return nil, errcode.New(errcode.AttestationTooLarge, "attestation %q is over %d bytes", name, MaxAttestationSize)
	}
	return b, nil
}
