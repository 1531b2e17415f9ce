//go:build unix

package safefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ReadFileNoFollow reads the file rel below dir whole, for readers that must
// not be redirected: dir itself and every component of rel are opened with
// O_NOFOLLOW relative to the one before, so a symlink anywhere is refused, as
// are a file that is not regular (a FIFO never blocks the open) and one
// larger than max bytes. rel uses the OS separator. Errors are plain (not
// coded): they name the component at fault, for a caller to wrap.
func ReadFileNoFollow(dir, rel string, max int64) ([]byte, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, noFollowErr(filepath.Base(dir), err)
	}
	parts := strings.Split(rel, string(filepath.Separator))
	for i, part := range parts {
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i < len(parts)-1 {
			flags |= unix.O_DIRECTORY
		} else {
			flags |= unix.O_NONBLOCK // never block on a FIFO
		}
		next, err := unix.Openat(fd, part, flags, 0)
		unix.Close(fd)
		if err != nil {
			return nil, noFollowErr(part, err)
		}
		fd = next
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > max {
		return nil, fmt.Errorf("file is %d bytes, limit %d", st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("file is larger than the %d byte limit", max)
	}
	return data, nil
}

func noFollowErr(part string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%q is a symlink (not followed)", part)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%q is not a directory (or is a symlink)", part)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%q does not exist", part)
	}
	return fmt.Errorf("opening %q: %w", part, err)
}
