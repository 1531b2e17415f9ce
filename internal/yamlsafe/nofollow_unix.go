//go:build unix

package yamlsafe

import (
	"os"
	"syscall"
)

// openNoFollow opens path read-only; the kernel refuses a symlinked last component (ELOOP).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
