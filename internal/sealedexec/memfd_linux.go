//go:build linux

package sealedexec

import (
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"syscall"

	"github.com/evidencerelay/epack/internal/errcode"
	"golang.org/x/sys/unix"
)

// disableMemfd forces the temp-file fallback (tests).
var disableMemfd = os.Getenv("EPACK_SEALEDEXEC_NO_MEMFD") == "1"

// sealMemfd copies src into a sealed memfd. The writable fd is closed after
// sealing; what stays open is a read-only, close-on-exec reopen of it.
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
	if st, err := src.Stat(); err == nil && st.Size() > 0 {
		_ = unix.Fallocate(fd, 0, 0, st.Size())
	}
	head, err := copyHash(w, src, h)
	if err != nil {
		return nil, err
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
	return head, nil
}
