package pack

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
)

// PackDigestInput returns the exact bytes hashed for pack_digest (COMPAT §1.5):
// for every embedded artifact sorted by path bytes, path TAB digest LF.
func PackDigestInput(arts []Artifact) []byte {
	idx := make([]int, 0, len(arts))
	for i := range arts {
		if arts[i].Type == "embedded" {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return arts[idx[a]].Path < arts[idx[b]].Path })
	var n int
	for _, i := range idx {
		n += len(arts[i].Path) + len(arts[i].Digest) + 2
	}
	buf := make([]byte, 0, n)
	for _, i := range idx {
		buf = append(buf, arts[i].Path...)
		buf = append(buf, '\t')
		buf = append(buf, arts[i].Digest...)
		buf = append(buf, '\n')
	}
	return buf
}

// ComputePackDigest returns pack_digest for arts: "sha256:<hex>".
func ComputePackDigest(arts []Artifact) string {
	return DigestBytes(PackDigestInput(arts))
}

// DigestBytes returns "sha256:<hex>" of b.
func DigestBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ManifestDigest canonicalizes raw manifest.json bytes with RFC 8785 JCS and
// the manifest number policy and returns "sha256:<hex>" of the result.
func ManifestDigest(raw []byte) (string, error) {
	c, err := jcs.Manifest(raw)
	if err != nil {
		return "", jsonError(err)
	}
	return DigestBytes(c), nil
}

// digestEqual compares a computed digest with a claimed one in constant time.
// A claimed digest that is not well formed never matches.
func digestEqual(computed, claimed string) bool {
	ok := subtle.ConstantTimeCompare([]byte(computed), []byte(claimed)) == 1
	return ok && IsDigest(claimed)
}

// FileSums are the digests of a whole pack file (COMPAT §1.7).
type FileSums struct {
	SHA256    string // "sha256:<hex>"
	MD5Base64 string // standard base64 (padded) MD5, as sent in Content-MD5
	Size      int64
}

const (
	sumChunk   = 1 << 20
	sumBuffers = 8
)

// SumFile reads r once and computes SHA-256 and MD5 together. The reader
// fills a small ring of 1 MiB buffers; two goroutines hash each buffer in
// parallel (MD5 is the slow one), so memory stays at a few MiB.
func SumFile(r io.Reader) (FileSums, error) {
	s, _, err := sumFile(r, nil, nil, 0)
	return s, err
}

// sumFile is SumFile; when copyTo is not nil every chunk is also written to
// it by a third goroutine, so the digests describe exactly the copied bytes.
// A failing copy does not stop the digests: it is returned as copyErr.
//
// skipMD5, when not nil, is called by the MD5 goroutine before its first
// chunk; true makes it drop every chunk unhashed (MD5Base64 stays empty).
//
// sizeHint > 0 is the size the reader will yield: a small file gets
// buffers of its size instead of sumChunk (a tiny pack then allocates
// kilobytes, not the 8 MiB that start a garbage collection).
func sumFile(r io.Reader, copyTo io.Writer, skipMD5 func() bool, sizeHint int64) (_ FileSums, copyErr error, _ error) {
	var (
		bufs   [sumBuffers][]byte
		lens   [sumBuffers]int
		refs   [sumBuffers]atomic.Int32
		free   = make(chan int, sumBuffers)
		toSHA  = make(chan int, sumBuffers)
		toMD5  = make(chan int, sumBuffers)
		toCopy = make(chan int, sumBuffers)
		werr   error
		wg     sync.WaitGroup
		sh     = sha256.New()
		mh     = md5.New()
		total  int64
		result FileSums
	)
	chunk := sumChunk
	if sizeHint > 0 && sizeHint < sumChunk {
		chunk = int((sizeHint + 4095) &^ 4095)
	}
	for i := range bufs {
		bufs[i] = make([]byte, chunk)
		free <- i
	}
	hashLoop := func(h io.Writer, in <-chan int) {
		defer wg.Done()
		for i := range in {
			h.Write(bufs[i][:lens[i]])
			if refs[i].Add(-1) == 0 {
				free <- i
			}
		}
	}
	consumers := int32(2)
	wg.Add(2)
	go hashLoop(sh, toSHA)
	md5Skipped := false
	if skipMD5 == nil {
		go hashLoop(mh, toMD5)
	} else {
		go func() {
			md5Skipped = skipMD5()
			if md5Skipped {
				hashLoop(io.Discard, toMD5)
			} else {
				hashLoop(mh, toMD5)
			}
		}()
	}
	if copyTo != nil {
		consumers = 3
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range toCopy {
				if werr == nil {
					if _, err := copyTo.Write(bufs[i][:lens[i]]); err != nil {
						werr = err
					}
				}
				if refs[i].Add(-1) == 0 {
					free <- i
				}
			}
		}()
	}
	var rerr error
	for {
		i := <-free
		n, err := io.ReadFull(r, bufs[i])
		if n > 0 {
			total += int64(n)
			lens[i] = n
			refs[i].Store(consumers)
			toSHA <- i
			toMD5 <- i
			if copyTo != nil {
				toCopy <- i
			}
		} else {
			free <- i
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(toSHA)
	close(toMD5)
	close(toCopy)
	wg.Wait()
	if rerr != nil {
		return result, nil, errcode.Wrap(errcode.IOError, rerr, "reading pack file")
	}
	if werr != nil {
		copyErr = errcode.Wrap(errcode.IOError, werr, "copying pack file")
	}
	result.SHA256 = "sha256:" + hex.EncodeToString(sh.Sum(nil))
	if !md5Skipped {
		result.MD5Base64 = base64.StdEncoding.EncodeToString(mh.Sum(nil))
	}
	result.Size = total
	return result, copyErr, nil
}
