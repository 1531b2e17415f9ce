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

// sealMemfd copies src into a memfd and hashes what the memfd holds (the
// hash of one chunk overlaps the copy of the next), then seals the memfd
// against any change (write, grow, shrink, further seal changes). The only
// writable fd is ours and close-on-exec, so the sealed bytes are the hashed
// bytes; another process could reach the memfd only through /proc/<pid>/fd,
// which needs the same user (who could as well rewrite epack.lock.yaml) or
// root. The writable fd is then closed; a read-only, close-on-exec reopen
// stays open and is what runs.
func sealMemfd(s *Sealed, src *os.File, size int64, h hash.Hash) ([]byte, error) {
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
	head, err := kernelCopyHash(fd, src, size, h)
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

// kernelCopyHash copies size bytes of src (its size when it was opened; a
// file that shrank since is refused) into the empty memfd mfd with
// sendfile and hashes the copy from a read-only mapping of the memfd, a
// chunk behind the copy. The bytes cross user space only to be
// hashed, once: an adapter of a few MB is sealed in about the time of its
// SHA-256 (a read and a write through a buffer took twice that). The memfd
// is sized first and sealed against growing and shrinking, so the mapping
// stays valid. It returns the first bytes of the copy. A kernel that
// cannot sendfile into the memfd gets errNoMemfd: the temp-file copy is used.
func kernelCopyHash(mfd int, src *os.File, size int64, h hash.Hash) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if err := unix.Ftruncate(mfd, size); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "sizing memfd")
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, unix.F_SEAL_GROW|unix.F_SEAL_SHRINK); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "sealing memfd size")
	}
	m, err := unix.Mmap(mfd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, errNoMemfd
	}
	defer unix.Munmap(m)

	copied := make(chan int64, 64) // end offsets of what is in the memfd
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		var done int64
		for end := range copied {
			h.Write(m[done:end])
			done = end
		}
	}()
	err = sendAll(mfd, src, size, copied)
	close(copied)
	<-hashed
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), m[:min(size, 4)]...), nil
}

// sendChunk is how much one sendfile call copies before the hash may follow.
const sendChunk = 512 << 10

// sendAll copies size bytes of src to the memfd's start with sendfile,
// telling copied where the copy has reached after each chunk.
func sendAll(mfd int, src *os.File, size int64, copied chan<- int64) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return errNoMemfd
	}
	var off int64
	for off < size {
		var n int
		var serr error
		cerr := rc.Control(func(fd uintptr) {
			n, serr = unix.Sendfile(mfd, int(fd), &off, int(min(sendChunk, size-off)))
		})
		switch {
		case cerr != nil:
			return errcode.Wrap(errcode.IOError, cerr, "copying adapter binary")
		case errors.Is(serr, syscall.EINTR) || errors.Is(serr, syscall.EAGAIN):
			continue
		case off == 0 && (errors.Is(serr, syscall.EINVAL) || errors.Is(serr, syscall.ENOSYS)):
			return errNoMemfd
		case serr != nil:
			return errcode.Wrap(errcode.IOError, serr, "copying adapter binary")
		case n == 0:
			return errcode.New(errcode.AdapterExecFailed, "adapter binary shrank while it was copied (%d of %d bytes)", off, size)
		}
		copied <- off
	}
	return nil
}
