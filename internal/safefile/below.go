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

// Below reports whether dir is anchor itself or lies inside it, comparing
// the absolute, cleaned paths as text, and returns dir relative to anchor.
// An empty anchor contains nothing.
func Below(anchor, dir string) (string, bool) {
	if anchor == "" || dir == "" || strings.IndexByte(anchor, 0) >= 0 || strings.IndexByte(dir, 0) >= 0 {
		return "", false
	}
	a, err1 := filepath.Abs(anchor)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(a, d)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// openAnchor opens the trusted folder a walk starts from. The anchor is the
// project root the caller found (a shell may name it through a link, as
// macOS's /tmp does), so its own path is resolved normally; only what lies
// below it is walked without following links.
func openAnchor(anchor string) (*Dir, error) {
	abs, err := filepath.Abs(anchor)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "resolving %q", anchor)
	}
	fd, err := openRetry(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, classify("opening folder", abs, err)
	}
	return &Dir{fd: fd, path: abs}, nil
}

// OpenDirBelow opens root/rel like OpenDir(root, rel, create, perm), and
// when root is anchor or lies inside it (anchor is normally the project
// root) the folders from anchor down to root are opened one by one with
// O_NOFOLLOW as well: a symbolic link on any component between anchor and
// the final folder gives SymlinkNotAllowed, so a linked .epack (or any
// linked folder above a registry root inside the project) can never
// redirect a write. The folders from anchor to root must exist; only rel's
// are created. With an empty anchor, or a root outside it (a path the user
// named on purpose), this is OpenDir.
func OpenDirBelow(anchor, root, rel string, create bool, perm os.FileMode) (*Dir, error) {
	parts, err := splitRel(rel)
	if err != nil {
		return nil, err
	}
	up, ok := Below(anchor, root)
	if !ok {
		return OpenDir(root, rel, create, perm)
	}
	above, err := splitRel(filepath.ToSlash(up))
	if err != nil {
		return nil, err
	}
	d, err := openAnchor(anchor)
	if err != nil {
		return nil, err
	}
	if d, err = d.walk(above, false, 0); err != nil {
		return nil, err
	}
	return d.walk(parts, create, perm)
}

// CheckBelow refuses a symbolic link (SymlinkNotAllowed) or a non-folder
// (InvalidPath) on every existing component of each dir below anchor,
// creating nothing. It stops at the first component that does not exist
// yet: whoever creates it later creates it inside folders just found to be
// real. It lets a workflow refuse a linked .epack, receipts folder or
// registry root before anything is sent to a remote, rather than after. A
// dir outside anchor (or an empty anchor or dir) is not checked here: a
// folder the user named outside the project is opened as the user wrote it.
func CheckBelow(anchor string, dirs ...string) error {
	for _, dir := range dirs {
		if err := checkBelow(anchor, dir); err != nil {
			return err
		}
	}
	return nil
}

func checkBelow(anchor, dir string) error {
	up, ok := Below(anchor, dir)
	if !ok {
		return nil
	}
	parts, err := splitRel(filepath.ToSlash(up))
	if err != nil {
		return err
	}
	d, err := openAnchor(anchor)
	if err != nil {
		return err
	}
	defer func() { d.Close() }()
	for _, name := range parts {
		next := filepath.Join(d.path, name)
		fd, err := openatRetry(d.fd, name, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return classifyAt(d.fd, name, "opening folder", next, err)
		}
		d.Close()
		d = &Dir{fd: fd, path: next}
	}
	return nil
}
