//go:build !unix

package safefile

import (
	"os"
	"syscall"
)

// OpenNoFollow opens path read-only after checking that it is not a symbolic
// link (best effort where O_NOFOLLOW does not exist). A link is refused with
// an error that errors.Is reports as syscall.ELOOP, as on unix, so callers
// recognise it the same way on every system.
func OpenNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: symlinkError{}}
	}
	return os.Open(path)
}

// symlinkError keeps the message this fallback always had while matching
// syscall.ELOOP.
type symlinkError struct{}

func (symlinkError) Error() string        { return "is a symbolic link" }
func (symlinkError) Is(target error) bool { return target == syscall.ELOOP }
