package pack

import (
	"context"
	"io"
	"os"

	"github.com/evidencerelay/epack/errcode"
)

// Verified is the outcome of VerifyFile: the checked manifest, its digest,
// and the digests of the exact file bytes that were verified.
type Verified struct {
	Manifest       *Manifest
	ManifestDigest string
	File           FileSums
	// Attestations lists the pack's attestations/*.sigstore.json entries.
	Attestations []string
	// Bundles holds each attestation's bytes (at most MaxAttestationSize
	// each), read from the same file in the same call, so a signature check
	// judges the bytes that were verified.
	Bundles map[string][]byte
	// CopyErr is set when writing VerifyOptions.CopyTo failed (the
	// verification itself is complete); the copy must then not be used.
	CopyErr error
}

// VerifyOptions tunes VerifyFile. The zero value only verifies.
type VerifyOptions struct {
	// CopyTo, when not nil, receives the file's bytes in the same pass as
	// the verification: Verified.File then describes exactly the bytes
	// written, which lets a push stage its upload while verifying. A failed
	// write is reported in Verified.CopyErr, not as VerifyFile's error.
	CopyTo io.Writer
	// SkipMD5, when not nil, is asked once, from the hashing goroutine,
	// before the file's MD5 takes in its first byte; it may block until the
	// caller knows. true leaves Verified.File.MD5Base64 empty and saves the
	// MD5 pass (a multipart upload checks each part's MD5 instead).
	SkipMD5 func() bool
}

// VerifyFile opens the pack in f, runs VerifyIntegrity and, at the same
// time, computes SumFile over the whole file (and copies it when
// opts.CopyTo is set). Both read f with ReadAt, so they share no file offset
// and f's offset is not moved. It does not close f.
func VerifyFile(ctx context.Context, f *os.File, opts VerifyOptions) (*Verified, error) {
	copyTo := opts.CopyTo
	st, err := f.Stat()
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "reading pack file")
	}
	if !st.Mode().IsRegular() {
		return nil, errcode.New(errcode.InvalidInput, "%s is not a regular file", f.Name())
	}
	size := st.Size()
	sumCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type sumResult struct {
		s       FileSums
		copyErr error
		err     error
	}
	done := make(chan sumResult, 1)
	go func() {
		s, copyErr, err := sumFile(&ctxReader{ctx: sumCtx, r: io.NewSectionReader(f, 0, size)}, copyTo, opts.SkipMD5, size)
		done <- sumResult{s, copyErr, err}
	}()
	p, err := OpenReaderAt(f, size)
	if err == nil {
		err = p.VerifyIntegrity(ctx)
	}
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	if res.s.Size != size {
		return nil, errcode.New(errcode.IOError, "pack file changed size while it was read (%d → %d bytes)", size, res.s.Size)
	}
	bundles := make(map[string][]byte, len(p.attestations))
	for _, name := range p.attestations {
		b, err := p.ReadAttestation(name)
		if err != nil {
			return nil, err
		}
		bundles[name] = b
	}
	return &Verified{Manifest: p.Manifest(), ManifestDigest: p.ManifestDigest(), File: res.s, Attestations: p.Attestations(), Bundles: bundles, CopyErr: res.copyErr}, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
