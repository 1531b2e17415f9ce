//go:build unix

package safefile

import (
	"os"
	"syscall"
)

// OpenNoFollow is the one way epack opens a file it only reads: read-only,
// close-on-exec, refusing a symbolic link as the last component (ELOOP,
// visible with errors.Is), and without blocking when the path is a FIFO
// planted where a file was expected. Callers check the file type they need
// with Stat on the returned file (regular files ignore the non-blocking flag).
func OpenNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
}
