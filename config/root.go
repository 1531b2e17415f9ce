package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/evidencerelay/epack/errcode"
)

// ConfigFileName and LockFileName are the project files at the root.
const (
	ConfigFileName = "epack.yaml"
	LockFileName   = "epack.lock.yaml"
)

// FindRoot returns the absolute path of the nearest folder at or above start
// that holds an entry named epack.yaml (checked with lstat). start "" means the
// current directory; a start that names a file begins at its folder. A
// symlinked epack.yaml is refused (errcode.SymlinkNotAllowed); when no folder
// has one the error is errcode.ProjectNotFound.
func FindRoot(start string) (string, error) {
	if start == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
		}
		start = wd
	}
	abs, err := filepath.Abs(start)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "invalid start path %q", start)
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		abs = filepath.Dir(abs)
	}
	dir := abs
	for {
		p := filepath.Join(dir, ConfigFileName)
		st, err := os.Lstat(p)
		switch {
		case err == nil:
			if st.Mode()&fs.ModeSymlink != 0 {
				return "", errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to follow it", p).
					WithHint("replace the link with a regular epack.yaml file")
			}
			if !st.Mode().IsRegular() {
				return "", errcode.New(errcode.ConfigInvalid, "%s is not a regular file", p)
			}
			return dir, nil
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			// keep walking up
		case errors.Is(err, fs.ErrPermission):
			return "", errcode.Wrap(errcode.PermissionDenied, err, "cannot look for %s in %s", ConfigFileName, dir)
		default:
			return "", errcode.Wrap(errcode.IOError, err, "cannot look for %s in %s", ConfigFileName, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errcode.New(errcode.ProjectNotFound, "epack.yaml not found in %s or any parent directory", abs).
		WithHint("run 'epack init' to create one, or change to your project directory")
}

// LoadProject finds the project root from start (see FindRoot) and loads its epack.yaml.
func LoadProject(start string) (*Project, error) {
	root, err := FindRoot(start)
	if err != nil {
		return nil, err
	}
	cfg, err := Load(root)
	if err != nil {
		return nil, err
	}
	return &Project{Root: root, ConfigPath: filepath.Join(root, ConfigFileName), Config: cfg}, nil
}
