//go:build !unix

package safefile

import (
	"errors"
	"os"
)

// OpenNoFollow opens path read-only after checking that it is not a symbolic
// link (best effort where O_NOFOLLOW does not exist).
func OpenNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("is a symbolic link")}
	}
	return os.Open(path)
}
