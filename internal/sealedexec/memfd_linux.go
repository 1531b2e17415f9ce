//go:build linux

package sealedexec

import (
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"golang.org/x/sys/unix"
)

// disableMemfd forces the temp-file fallback (tests, through SetMemfd).
var disableMemfd bool

// noMemfdEnv, set to "1", forces the temp-file fallback as well. It is read
// each time something is sealed rather than once at package init, so the
// package keeps no process-wide copy of the environment and a change (or a
// test's t.Setenv) takes effect for the next seal.
const noMemfdEnv = "EPACK_SEALEDEXEC_NO_MEMFD"

// memfdOff reports whether sealing must use the temp-file copy.
func memfdOff() bool { return disableMemfd || os.Getenv(noMemfdEnv) == "1" }

// sealMemfd copies src into a memfd while hashing the same bytes (the hash
// of one chunk overlaps the write of the next), then seals the memfd against
// any change (write, grow, shrink, further seal changes). The only writable
// fd is ours and close-on-exec, so the sealed bytes are the hashed bytes;
// another process could reach the memfd only through /proc/<pid>/fd, which
// needs the same user (who could as well rewrite epack.lock.yaml) or root.
// The writable fd is then closed; a read-only, close-on-exec reopen stays
// open and is what runs.
func sealMemfd(s *Sealed, src *os.File, h hash.Hash) ([]byte, error) {
	if memfdOff() {
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
	head, err := copyHash(w, src, h)
	if err != nil {
		return nil, err
	}
	if err := addSeals(fd); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			// The kernel still counts a transient extra reference to a page
			// (seen under heavy load): the private temp copy is as safe.
			return nil, errNoMemfd
		}
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

// addSeals seals the memfd against writes, growth, shrinking and further seal
// changes. F_SEAL_WRITE fails with EBUSY while the kernel holds a transient
// extra reference to one of the pages (per-CPU page batches under load), so
// EBUSY is retried a few times before it is returned.
func addSeals(fd int) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
			unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
		if !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(time.Duration(1<<attempt) * time.Millisecond)
	}
	return err
}
