//go:build linux

package sealedexec

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/evidencerelay/epack/internal/errcode"
	"golang.org/x/sys/unix"
)

// disableMemfd forces the temp-file fallback (tests).
var disableMemfd = os.Getenv("EPACK_SEALEDEXEC_NO_MEMFD") == "1"

// sealMemfd copies src into a memfd (kernel-side copy), seals it against any
// change, and only then hashes the sealed bytes through a read-only mapping:
// what is hashed is exactly what will run, even if another process of the
// same user opened the memfd through /proc before it was sealed. The
// writable fd is closed; a read-only, close-on-exec reopen stays open.
func sealMemfd(s *Sealed, src *os.File, h hash.Hash) ([]byte, error) {
	if disableMemfd {
		return nil, errNoMemfd
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return nil, errNoMemfd
	}
	fd, err := unix.MemfdCreate("epack-adapter", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, errNoMemfd
	}
	w := os.NewFile(uintptr(fd), "memfd:epack-adapter")
	defer w.Close()
	n, err := kernelCopy(w, src)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "copying adapter binary")
	}
	if n > MaxBinarySize {
		return nil, errcode.New(errcode.AdapterExecFailed, "adapter binary grew past %d bytes while copying", MaxBinarySize)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "sealing memfd")
	}
	rofd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) {
			return nil, errNoMemfd
		}
		return nil, errcode.Wrap(errcode.IOError, err, "reopening memfd")
	}
	s.fd = os.NewFile(uintptr(rofd), "memfd:epack-adapter")
	s.execPath = fmt.Sprintf("/proc/self/fd/%d", rofd)
	if n == 0 {
		return nil, nil
	}
	mem, err := unix.Mmap(rofd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "mapping sealed memfd")
	}
	defer unix.Munmap(mem)
	h.Write(mem)
	return append([]byte(nil), mem[:min(len(mem), 4)]...), nil
}

// kernelCopy copies src to the memfd with sendfile (no round trip through
// user space), falling back to a buffered copy. It stops after
// MaxBinarySize+1 bytes.
func kernelCopy(w *os.File, src *os.File) (int64, error) {
	var total int64
	dst, sfd := int(w.Fd()), int(src.Fd())
	for total <= MaxBinarySize {
		n, err := unix.Sendfile(dst, sfd, nil, 8<<20)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			if total == 0 && (err == unix.EINVAL || err == unix.ENOSYS) {
				return io.CopyBuffer(w, io.LimitReader(src, MaxBinarySize+1), make([]byte, 1<<20))
			}
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		total += int64(n)
	}
	return total, nil
}
