//go:build unix

package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
)

// maxUnique bounds the suffixes WriteUnique tries (base, base_2 … base_N).
const maxUnique = 10000

// MkdirAllNoFollow makes sure root/rel exists as a chain of real folders and
// returns its absolute path. root must already exist, be a folder and not be
// a symbolic link; every component of rel is opened with O_NOFOLLOW and
// created (perm, subject to the umask) when missing. rel must be relative and
// free of "..". Prefer OpenDir when the folder is used right away.
func MkdirAllNoFollow(root, rel string, perm os.FileMode) (string, error) {
	d, err := OpenDir(root, rel, true, perm)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return d.path, nil
}

// CreateTempIn creates a new file with a random name from pattern in dir,
// which must be a folder and not a symbolic link. The file is opened
// read-write, O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.
func CreateTempIn(dir, pattern string) (*os.File, error) {
	d, err := openDirPath(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.CreateTemp(pattern)
}

// Commit makes tmp (a file created by CreateTempIn or Dir.CreateTemp, on the
// same file system as final) durable under the name final: it fsyncs tmp,
// renames it into place and fsyncs the folder(s).
//
// With replace, an existing regular file at final is replaced atomically; a
// symbolic link, folder or other non-regular file there is refused
// (SymlinkNotAllowed / InvalidPath).
// Without replace, an existing entry of any kind gives OutputExists and
// nothing changes. A symbolic link is never followed. Commit closes tmp in
// every case and removes it when it fails before the rename.
func Commit(tmp *os.File, final string, replace bool) error {
	if tmp == nil {
		return errcode.New(errcode.Internal, "safefile.Commit: nil file")
	}
	src, err := openDirPath(filepath.Dir(tmp.Name()))
	if err != nil {
		tmp.Close()
		return err
	}
	defer src.Close()
	dst := src
	if dstPath := filepath.Dir(final); !samePath(dstPath, src.path) {
		dst, err = openDirPath(dstPath)
		if err != nil {
			_ = unix.Unlinkat(src.fd, filepath.Base(tmp.Name()), 0)
			tmp.Close()
			return err
		}
		defer dst.Close()
	}
	return commitAt(tmp, src, filepath.Base(tmp.Name()), dst, filepath.Base(final), replace)
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// Commit is Commit for a temp file created in d (or, if tmp lives in another
// folder, opened by that folder's path) and a final name inside d.
func (d *Dir) Commit(tmp *os.File, name string, replace bool) error {
	if tmp == nil {
		return errcode.New(errcode.Internal, "safefile.Dir.Commit: nil file")
	}
	if filepath.Dir(tmp.Name()) == d.path {
		return commitAt(tmp, d, filepath.Base(tmp.Name()), d, name, replace)
	}
	src, err := openDirPath(filepath.Dir(tmp.Name()))
	if err != nil {
		tmp.Close()
		return err
	}
	defer src.Close()
	return commitAt(tmp, src, filepath.Base(tmp.Name()), d, name, replace)
}

func commitAt(tmp *os.File, src *Dir, srcName string, dst *Dir, name string, replace bool) error {
	committed := false
	defer func() {
		if !committed {
			_ = unix.Unlinkat(src.fd, srcName, 0)
		}
		tmp.Close()
	}()
	if err := checkName(name); err != nil {
		return err
	}
	final := filepath.Join(dst.path, name)
	if err := tmp.Sync(); err != nil {
		return errcode.Wrap(errcode.IOError, err, "syncing %s", tmp.Name())
	}
	if replace {
		var st unix.Stat_t
		if err := fstatatRetry(dst.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			switch uint32(st.Mode) & unix.S_IFMT {
			case unix.S_IFLNK:
				return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to replace it", final).
					WithHint("remove the symbolic link; epack never writes through links")
			case unix.S_IFDIR:
				return errcode.New(errcode.InvalidPath, "%s is a folder", final)
			case unix.S_IFREG:
			default: // a FIFO, socket or device node is never replaced
				return errcode.New(errcode.InvalidPath, "%s is not a regular file; refusing to replace it", final)
			}
		}
		if err := unix.Renameat(src.fd, srcName, dst.fd, name); err != nil {
			return classify("renaming into", final, err)
		}
	} else {
		err := renameNoReplace(src.fd, srcName, dst.fd, name)
		if errors.Is(err, unix.EEXIST) {
			return errcode.New(errcode.OutputExists, "%s already exists", final).
				WithHint("remove it or choose another name")
		}
		if err != nil {
			return classify("renaming into", final, err)
		}
	}
	committed = true
	if err := dst.Sync(); err != nil {
		return err
	}
	if src.fd != dst.fd {
		return src.Sync()
	}
	return nil
}

func linkThenUnlink(srcfd int, src string, dstfd int, dst string) error {
	if err := unix.Linkat(srcfd, src, dstfd, dst, 0); err != nil {
		return err
	}
	// The data is in place under dst; a leftover temp name is only litter.
	_ = unix.Unlinkat(srcfd, src, 0)
	return nil
}

// WriteUnique durably writes data to a new file in dir named base+ext, or
// base_2+ext, base_3+ext … when that name is taken, and returns the path it
// used. An existing file is never overwritten, even by many processes writing
// at once. dir must be a folder and not a symbolic link.
func WriteUnique(dir, base, ext string, data []byte, perm os.FileMode) (string, error) {
	d, err := openDirPath(dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return d.WriteUnique(base, ext, data, perm)
}

// WriteUnique is WriteUnique inside d.
func (d *Dir) WriteUnique(base, ext string, data []byte, perm os.FileMode) (string, error) {
	if err := checkUniqueName(base, ext); err != nil {
		return "", err
	}
	tmp, err := d.writeTemp(tempPattern(base), data, perm)
	if err != nil {
		return "", err
	}
	srcName := filepath.Base(tmp.Name())
	defer tmp.Close()
	path, err := d.eachUnique(base, ext, "renaming into", func(name string) error {
		return renameNoReplace(d.fd, srcName, d.fd, name)
	})
	if err != nil {
		_ = unix.Unlinkat(d.fd, srcName, 0)
		return "", err
	}
	if err := d.Sync(); err != nil {
		return "", err
	}
	return path, nil
}

// WriteAtomic replaces path with data durably: temp file in the same folder,
// fsync, rename, fsync of the folder. A symbolic link at path (or as the
// folder's final component) is refused, never followed. perm is applied
// exactly (no umask).
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	d, err := openDirPath(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteAtomic(filepath.Base(path), data, perm)
}

// WriteAtomic is WriteAtomic for the file name inside d.
func (d *Dir) WriteAtomic(name string, data []byte, perm os.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	tmp, err := d.writeTemp(tempPattern(name), data, perm)
	if err != nil {
		return err
	}
	return commitAt(tmp, d, filepath.Base(tmp.Name()), d, name, true)
}

// tempPattern names the hidden temp file for name: ".<name>.<random>.tmp",
// with name shortened so the result stays well below NAME_MAX.
func tempPattern(name string) string {
	if len(name) > 64 {
		name = strings.ToValidUTF8(name[:64], "")
	}
	return "." + name + ".*.tmp"
}

// writeTemp creates a temp file in d holding data with mode perm, synced.
func (d *Dir) writeTemp(pattern string, data []byte, perm os.FileMode) (*os.File, error) {
	tmp, err := d.CreateTemp(pattern)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		_ = unix.Unlinkat(d.fd, filepath.Base(tmp.Name()), 0)
		tmp.Close()
		return nil, errcode.Wrap(errcode.IOError, err, "writing %s", tmp.Name())
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm.Perm()); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	return tmp, nil
}

// CommitFrom moves tmp, a temp file created in folder src, to name in d
// (the same rules as Commit: fsync first, never through a link, both folders
// synced). Both folders must be on one file system. tmp is always closed and
// removed on failure.
func (d *Dir) CommitFrom(src *Dir, tmp *os.File, name string, replace bool) error {
	return commitAt(tmp, src, filepath.Base(tmp.Name()), d, name, replace)
}
