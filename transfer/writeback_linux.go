package transfer

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteOut asks the kernel to start writing f's bytes [off, off+n) to
// disk and returns without waiting (sync_file_range SYNC_FILE_RANGE_WRITE).
// It only moves work earlier: durability still comes from the fsync, so a
// failure here is ignored.
func startWriteOut(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
