//go:build unix

package safefile

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
)

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// Dir is an open folder reached without following symbolic links. Operations
// on a Dir are relative to the open handle, so renaming or replacing the
// folder's path after OpenDir cannot redirect them. Its methods may be
// called from several goroutines at once, but not concurrently with Close.
type Dir struct {
	fd   int
	path string
}

// Path returns the absolute path the folder had when it was opened.
func (d *Dir) Path() string { return d.path }

// Close releases the folder handle. It is idempotent.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// OpenDir opens root (which must exist, be a folder and not be a symbolic
// link) and then each component of rel below it with O_NOFOLLOW. With create,
// missing components are made with perm (subject to the umask). rel must be
// relative and must not contain "..": PathTraversal otherwise. A symbolic link
// anywhere below root gives SymlinkNotAllowed.
func OpenDir(root, rel string, create bool, perm os.FileMode) (*Dir, error) {
	parts, err := splitRel(rel)
	if err != nil {
		return nil, err
	}
	d, err := openDirPath(root)
	if err != nil {
		return nil, err
	}
	return d.walk(parts, create, perm)
}

// walk opens each of parts below d in turn (creating missing ones with
// create), consuming d: it is closed on every path, and the deepest folder
// is returned.
func (d *Dir) walk(parts []string, create bool, perm os.FileMode) (*Dir, error) {
	for _, name := range parts {
		next := filepath.Join(d.path, name)
		fd, err := openatRetry(d.fd, name, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if merr := unix.Mkdirat(d.fd, name, uint32(perm.Perm())); merr != nil && !errors.Is(merr, unix.EEXIST) {
				d.Close()
				return nil, classify("creating folder", next, merr)
			}
			fd, err = openatRetry(d.fd, name, dirFlags, 0)
		}
		if err != nil {
			err = classifyAt(d.fd, name, "opening folder", next, err)
			d.Close()
			return nil, err
		}
		d.Close()
		d = &Dir{fd: fd, path: next}
	}
	return d, nil
}

// openDirPath opens an existing folder by path, refusing a symbolic link as
// its final component. Relative paths are made absolute first.
func openDirPath(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errcode.New(errcode.InvalidPath, "empty folder path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "resolving %q", dir)
	}
	fd, err := openRetry(abs, dirFlags, 0)
	if err != nil {
		return nil, classifyAt(unix.AT_FDCWD, abs, "opening folder", abs, err)
	}
	return &Dir{fd: fd, path: abs}, nil
}

// splitRel splits a relative slash-separated path into components, dropping
// empty and "." components and refusing absolute paths and "..".
func splitRel(rel string) ([]string, error) {
	if rel == "" {
		return nil, nil
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return nil, errcode.New(errcode.PathTraversal, "path %q must be relative", rel)
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return nil, errcode.New(errcode.InvalidPath, "path %q contains a NUL byte", rel)
	}
	var parts []string
	for _, p := range strings.Split(filepath.ToSlash(rel), "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return nil, errcode.New(errcode.PathTraversal, "path %q escapes its root with \"..\"", rel)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// checkName refuses anything that is not a single plain path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return errcode.New(errcode.InvalidPath, "%q is not a single file name", name)
	}
	return nil
}

// CreateTemp creates a new file in d with a random name built from pattern
// (the last "*" is replaced, else the random part is appended), opened
// read-write with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600.
func (d *Dir) CreateTemp(pattern string) (*os.File, error) {
	if strings.ContainsAny(pattern, "/\x00") {
		return nil, errcode.New(errcode.InvalidPath, "temp file pattern %q contains a path separator", pattern)
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	var lastErr error
	for range 100 {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36) + suffix
		fd, err := openatRetry(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
		}
		lastErr = err
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	return nil, classify("creating temp file", filepath.Join(d.path, pattern), lastErr)
}

// OpenFile opens the regular file name in d for reading, refusing a symbolic
// link (SymlinkNotAllowed) and anything that is not a regular file.
func (d *Dir) OpenFile(name string) (*os.File, error) {
	return d.openRegular(name, unix.O_RDONLY, 0, "opening file")
}

// Lstat reports what name in d is, without following a symbolic link.
func (d *Dir) Lstat(name string) (fs.FileMode, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := fstatatRetry(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, classify("inspecting", filepath.Join(d.path, name), err)
	}
	return modeOf(uint32(st.Mode)), nil
}

// Sync flushes the folder itself (its entries) to stable storage.
func (d *Dir) Sync() error {
	if err := unix.Fsync(d.fd); err != nil {
		return classify("syncing folder", d.path, err)
	}
	return nil
}

// Remove unlinks the file name in d (never a folder); a missing file is not
// an error.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.fd, name, 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return classify("removing", filepath.Join(d.path, name), err)
	}
	return nil
}

func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFREG:
		return 0
	}
	return fs.ModeIrregular
}

// classifyAt maps an open error to a coded error, looking at what name really
// is when the error could mean "this was a symbolic link".
func classifyAt(dirfd int, name, op, full string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EMLINK) {
		var st unix.Stat_t
		if serr := fstatatRetry(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil {
			if uint32(st.Mode)&unix.S_IFMT == unix.S_IFLNK {
				return errcode.Wrap(errcode.SymlinkNotAllowed, &fs.PathError{Op: "open", Path: full, Err: err},
					"%s: %s is a symbolic link", op, full).
					WithHint("replace the symbolic link with a real folder or file; epack never writes or reads through links")
			}
			if errors.Is(err, unix.ENOTDIR) {
				return errcode.Wrap(errcode.InvalidPath, &fs.PathError{Op: "open", Path: full, Err: err},
					"%s: %s is not a folder", op, full)
			}
		}
		if errors.Is(err, unix.ELOOP) {
			return errcode.Wrap(errcode.SymlinkNotAllowed, &fs.PathError{Op: "open", Path: full, Err: err},
				"%s: %s is a symbolic link", op, full)
		}
	}
	return classify(op, full, err)
}

func classify(op, full string, err error) error {
	perr := &fs.PathError{Op: op, Path: full, Err: err}
	switch {
	case errors.Is(err, unix.ELOOP):
		return errcode.Wrap(errcode.SymlinkNotAllowed, perr, "%s %s", op, full)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return errcode.Wrap(errcode.PermissionDenied, perr, "%s %s", op, full)
	case errors.Is(err, unix.EEXIST):
		return errcode.Wrap(errcode.OutputExists, perr, "%s %s", op, full)
	}
	return errcode.Wrap(errcode.IOError, perr, "%s %s", op, full)
}

func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func openatRetry(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstatatRetry(dirfd int, name string, st *unix.Stat_t, flags int) error {
	for {
		err := unix.Fstatat(dirfd, name, st, flags)
		if err != unix.EINTR {
			return err
		}
	}
}
