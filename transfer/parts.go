package transfer

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// Defaults of multipart uploads.
const (
	// DefaultPartSize is the part size when neither the caller nor the
	// adapter's limits ask for another.
	DefaultPartSize = 16 << 20
	// DefaultParallel is how many parts are sent at once.
	DefaultParallel = 4
)

// ChoosePartSize picks the part size of a multipart upload of size bytes:
// want (0: DefaultPartSize), raised to the adapter's minimum and to what
// keeps the parts within its part limit (in whole MiB). A want the limits
// refuse, or a pack no part size fits, is an InvalidInput error.
func ChoosePartSize(size int64, lim protocol.MultipartLimits, want int64) (int64, error) {
	ps := want
	if ps <= 0 {
		ps = DefaultPartSize
		if lim.MinPartBytes > ps {
			ps = lim.MinPartBytes
		}
		if n := int64(lim.PartLimit()); size > ps*n {
			ps = (size + n - 1) / n
			ps = (ps + (1<<20 - 1)) &^ (1<<20 - 1)
		}
		if lim.MaxPartBytes > 0 && ps > lim.MaxPartBytes {
			ps = lim.MaxPartBytes
		}
	}
	if err := lim.CheckPartSize(ps, size); err != nil {
		return 0, errcode.New(errcode.InvalidInput, "cannot send %d bytes in parts: %v", size, err)
	}
	return ps, nil
}

// PartHasher computes the MD5 and SHA-256 of every part of a byte stream
// written to it in order — the verification pass of a push writes the
// pack's bytes to it (pack.VerifyOptions.CopyTo), so the parts' checksums
// describe exactly the verified bytes. The part size may be decided after
// the first bytes arrive: Write blocks until Decide is called (or ctx
// ends), so the pass can start before the adapter's limits are known.
type PartHasher struct {
	ctx     context.Context
	total   int64
	once    sync.Once
	decided chan struct{}

	partSize int64
	withMD5  bool
	inPart   int64
	written  int64
	md, sh   hash.Hash
	parts    []protocol.PartChecksum
}

// NewPartHasher returns a hasher for a stream of total bytes.
func NewPartHasher(ctx context.Context, total int64) *PartHasher {
	return &PartHasher{ctx: ctx, total: total, decided: make(chan struct{}), md: md5.New(), sh: sha256.New()}
}

// Decide fixes the part size, each part to get its MD5 and SHA-256; 0
// means no parts are wanted (Write then discards). Only the first call of
// Decide or DecideSHA256 counts.
func (h *PartHasher) Decide(partSize int64) { h.decide(partSize, true) }

// DecideSHA256 is Decide for a store that checks parts by SHA-256 alone:
// the parts' MD5 is not computed (PartChecksum.MD5 stays empty).
func (h *PartHasher) DecideSHA256(partSize int64) { h.decide(partSize, false) }

func (h *PartHasher) decide(partSize int64, md5 bool) {
	h.once.Do(func() {
		h.partSize, h.withMD5 = max(partSize, 0), md5
		close(h.decided)
	})
}

// PartSize is the decided part size (0: none, or not decided yet).
func (h *PartHasher) PartSize() int64 {
	select {
	case <-h.decided:
		return h.partSize
	default:
		return 0
	}
}

// wait blocks until Decide or the end of ctx; false means ctx ended.
func (h *PartHasher) wait() bool {
	select {
	case <-h.decided:
		return true
	case <-h.ctx.Done():
		select {
		case <-h.decided:
			return true
		default:
			return false
		}
	}
}

// WantWholeMD5 blocks until the part size is decided and reports whether
// the whole file's MD5 is still needed: only when it goes in one piece
// (pack.VerifyOptions.SkipMD5 takes its negation).
func (h *PartHasher) WantWholeMD5() bool {
	return !h.wait() || h.partSize == 0 && h.withMD5
}

// DecideNoMD5 is Decide(0) for an adapter that does not use the whole
// file's MD5 either (protocol.Features.NoFileChecksum): the verification
// pass then computes no MD5 at all.
func (h *PartHasher) DecideNoMD5() { h.decide(0, false) }

// Write hashes p into the current part(s). MD5 and SHA-256 of a chunk run
// in parallel (MD5 is the slower one).
func (h *PartHasher) Write(p []byte) (int, error) {
	if !h.wait() {
		return 0, h.ctx.Err()
	}
	if h.partSize == 0 {
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		chunk := p[:min(int64(len(p)), h.partSize-h.inPart)]
		if !h.withMD5 {
			h.sh.Write(chunk)
		} else if len(chunk) >= 64<<10 {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { h.sh.Write(chunk); wg.Done() }()
			h.md.Write(chunk)
			wg.Wait()
		} else {
			h.sh.Write(chunk)
			h.md.Write(chunk)
		}
		h.inPart += int64(len(chunk))
		h.written += int64(len(chunk))
		p = p[len(chunk):]
		if h.inPart == h.partSize {
			h.endPart()
		}
	}
	return n, nil
}

func (h *PartHasher) endPart() {
	p := protocol.PartChecksum{
		PartNumber: len(h.parts) + 1,
		SizeBytes:  h.inPart,
		SHA256:     base64.StdEncoding.EncodeToString(h.sh.Sum(nil)),
	}
	if h.withMD5 {
		p.MD5 = base64.StdEncoding.EncodeToString(h.md.Sum(nil))
	}
	h.parts = append(h.parts, p)
	h.md.Reset()
	h.sh.Reset()
	h.inPart = 0
}

// Parts returns every part's checksums once the whole stream was written
// (call it after the writer is done; it is not safe beside Write).
func (h *PartHasher) Parts() ([]protocol.PartChecksum, error) {
	if h.PartSize() == 0 {
		return nil, errcode.New(errcode.Internal, "no part size was decided")
	}
	if h.written != h.total {
		return nil, errcode.New(errcode.SizeMismatch, "parts cover %d of %d bytes", h.written, h.total)
	}
	if h.inPart > 0 {
		h.endPart()
	}
	if want := protocol.PartCount(h.total, h.partSize); int64(len(h.parts)) != want {
		return nil, errcode.New(errcode.Internal, "%d parts hashed, %d expected", len(h.parts), want)
	}
	return h.parts, nil
}

// b64ToHex converts a base64 digest to lowercase hex.
func b64ToHex(s string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%q is not base64", s)
	}
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(raw))
	for i, b := range raw {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&15]
	}
	return string(out), nil
}
