package yamlsafe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/evidencerelay/epack/internal/safefile"
)

// Errors returned by ReadFile; callers map them to their own error codes.
var (
	// ErrSymlink means the file is a symbolic link and was not followed.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotRegular means the path names a directory, device, FIFO …
	ErrNotRegular = errors.New("is not a regular file")
	// ErrTooLarge means the file is larger than the allowed size.
	ErrTooLarge = errors.New("is too large")
)

// ReadFile reads the regular file at path, refusing a symlink as the last
// path component and any file larger than max bytes. A missing file gives an
// error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := safefile.OpenNoFollow(path)
	if err != nil {
		if isSymlinkErr(err) {
			return nil, fmt.Errorf("%s %w", path, ErrSymlink)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w", path, ErrNotRegular)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s %w (%d bytes, limit %d)", path, ErrTooLarge, st.Size(), max)
	}
	// The size may change between stat and read: never read more than max+1.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s %w (more than %d bytes)", path, ErrTooLarge, max)
	}
	return data, nil
}

// IsSymlink reports whether the entry at path is itself a symbolic link.
func IsSymlink(path string) (bool, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	return st.Mode()&fs.ModeSymlink != 0, nil
}

func isSymlinkErr(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, syscall.ELOOP) {
		return true
	}
	return false
}
