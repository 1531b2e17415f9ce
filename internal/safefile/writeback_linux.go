package safefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to start writing bytes [off, off+n) of f
// to disk now, without waiting for it (sync_file_range with
// SYNC_FILE_RANGE_WRITE), so that the fsync of a large file that Commit
// does later finds little left to write. It is a hint: failures are
// ignored, and it never replaces that fsync.
func StartWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
