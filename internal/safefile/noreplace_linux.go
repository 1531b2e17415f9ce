//go:build linux

package safefile

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameNoReplace moves src to dst (both relative to folder handles) only if
// dst does not exist, atomically. It returns unix.EEXIST when dst exists.
func renameNoReplace(srcfd int, src string, dstfd int, dst string) error {
	err := unix.Renameat2(srcfd, src, dstfd, dst, unix.RENAME_NOREPLACE)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return err
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		// File system without RENAME_NOREPLACE: link is exclusive too.
		return linkThenUnlink(srcfd, src, dstfd, dst)
	}
	return err
}
