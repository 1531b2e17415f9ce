//go:build unix

package safefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
)

// OpenDir opens the folder name inside d with the same no-follow flags as
// the walk, so a caller descending a tree (a registry listing) keeps working
// on handles: a subfolder swapped for a symbolic link after d was read gives
// SymlinkNotAllowed instead of redirecting the descent. A missing name gives
// an error satisfying errors.Is(err, fs.ErrNotExist). d stays open.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	full := filepath.Join(d.path, name)
	fd, err := openatRetry(d.fd, name, dirFlags, 0)
	if err != nil {
		return nil, classifyAt(d.fd, name, "opening folder", full, err)
	}
	return &Dir{fd: fd, path: full}, nil
}

// ReadDir lists d's entries (in directory order, without "." and "..") from
// the open handle rather than by path, so the listing is of the folder that
// was checked, not of whatever its path names now. The entries' Info still
// stats by path, as os.File.ReadDir's do; callers that act on an entry open
// it through d. It may be called more than once.
func (d *Dir) ReadDir() ([]fs.DirEntry, error) {
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, classify("reading folder", d.path, err)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	// The duplicate shares d's read position: rewind so a second ReadDir
	// sees every entry again.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, classify("reading folder", d.path, err)
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "reading folder %s", d.path)
	}
	return ents, nil
}

// OpenLock opens the lock file name in d read-write, creating it (perm,
// subject to the umask) when missing, for a caller to flock. Lock files are
// shared and long-lived, so unlike CreateTemp this does not insist on a new
// file; but a symbolic link (SymlinkNotAllowed) or a FIFO, folder or device
// (InvalidPath) in the lock's place is refused, so a planted entry can
// neither redirect the create nor hang or fake the lock.
func (d *Dir) OpenLock(name string, perm os.FileMode) (*os.File, error) {
	return d.openRegular(name, unix.O_RDWR|unix.O_CREAT, perm, "opening lock file")
}

// OpenAppend opens the log file name in d for appending, creating it (perm,
// subject to the umask) when missing. Logs that must be written before
// something risky is done (the audit log) have to fail at once rather than
// write elsewhere or hang: a symbolic link in the file's place, even a
// dangling one, gives SymlinkNotAllowed, and a FIFO, folder or device gives
// InvalidPath without blocking on the open.
func (d *Dir) OpenAppend(name string, perm os.FileMode) (*os.File, error) {
	return d.openRegular(name, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, perm, "opening log file")
}

// CreateUnique creates a new file in d named base+ext, or base_2+ext,
// base_3+ext … when that name is taken (the names WriteUnique uses), opened
// write-only with O_CREAT|O_EXCL|O_NOFOLLOW and perm (subject to the umask),
// and returns it with the name it got. It is for a file that must be handed
// out open before its content exists (a background job's log becomes the
// child's stdout), where WriteUnique's write-then-rename cannot be used. An
// existing entry, a symbolic link included, is never opened. The path
// returned is the file's Name.
func (d *Dir) CreateUnique(base, ext string, perm os.FileMode) (*os.File, string, error) {
	if err := checkUniqueName(base, ext); err != nil {
		return nil, "", err
	}
	var f *os.File
	path, err := d.eachUnique(base, ext, "creating", func(name string) error {
		fd, err := openatRetry(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), filepath.Join(d.path, name))
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return f, path, nil
}

// Chmod sets d's permission bits to perm through the handle (so a folder
// swapped in after the walk is never the one changed). It does nothing when
// the bits are already perm: tightening a folder is then not an error for a
// user who can use the folder but does not own it.
func (d *Dir) Chmod(perm os.FileMode) error {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return classify("checking folder", d.path, err)
	}
	if uint32(st.Mode)&0o777 == uint32(perm.Perm()) {
		return nil
	}
	if err := unix.Fchmod(d.fd, uint32(perm.Perm())); err != nil {
		return classify("changing the mode of folder", d.path, err)
	}
	return nil
}

// ReadFile reads the regular file name in d whole, opened as OpenFile
// opens it (no link followed, a FIFO never blocks), refusing one of more
// than max bytes with InvalidInput. A missing name gives an error
// satisfying errors.Is(err, fs.ErrNotExist).
func (d *Dir) ReadFile(name string, max int64) ([]byte, error) {
	f, err := d.OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "reading %s", f.Name())
	}
	if int64(len(data)) > max {
		return nil, errcode.New(errcode.InvalidInput, "%s is larger than %d bytes", f.Name(), max)
	}
	return data, nil
}

// openRegular opens name in d with flags plus O_NOFOLLOW|O_CLOEXEC and,
// during the open only, O_NONBLOCK (a FIFO in the file's place must not
// block), and refuses anything but a regular file.
func (d *Dir) openRegular(name string, flags int, perm os.FileMode, op string) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	full := filepath.Join(d.path, name)
	fd, err := openatRetry(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENXIO) {
		// A folder opened for writing, or a FIFO (socket) with no reader
		// opened without blocking: not a regular file either way.
		return nil, errcode.Wrap(errcode.InvalidPath, &fs.PathError{Op: "open", Path: full, Err: err},
			"%s: %s is not a regular file", op, full)
	}
	if err != nil {
		return nil, classifyAt(d.fd, name, op, full, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, classify(op, full, err)
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, errcode.New(errcode.InvalidPath, "%s is not a regular file", full)
	}
	// Regular files ignore O_NONBLOCK, but clear it anyway so the
	// descriptor behaves like one from os.OpenFile.
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	return os.NewFile(uintptr(fd), full), nil
}

func checkUniqueName(base, ext string) error {
	if err := checkName(base + ext); err != nil {
		return err
	}
	if base == "" {
		return errcode.New(errcode.InvalidPath, "empty file name")
	}
	return nil
}

// eachUnique calls try with base+ext, base_2+ext … base_maxUnique+ext until
// try succeeds or fails with something other than EEXIST (classified with
// op), and returns the full path of the name that worked.
func (d *Dir) eachUnique(base, ext, op string, try func(name string) error) (string, error) {
	for i := 1; i <= maxUnique; i++ {
		name := base + ext
		if i > 1 {
			name = base + "_" + strconv.Itoa(i) + ext
		}
		err := try(name)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", classify(op, filepath.Join(d.path, name), err)
		}
		return filepath.Join(d.path, name), nil
	}
	return "", errcode.New(errcode.OutputExists, "%s: every name from %s%s to %s_%d%s is taken",
		d.path, base, ext, base, maxUnique, ext)
}
