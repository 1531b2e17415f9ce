//go:build unix

package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/registry"
)

var _ registry.LeftoverStore = (*Store)(nil)

// Leftovers lists the temp files interrupted writes left in the registry
// folder: the store's own (".<name>.<random>.tmp") and the host's file://
// uploads (".epack-upload-<random>.part"), which List never shows. The lock
// folder is not looked at. Symbolic links are not followed.
func (s *Store) Leftovers(context.Context) ([]registry.Entry, error) {
	var out []registry.Entry
	err := filepath.WalkDir(s.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p == s.root {
			return nil
		}
		name := de.Name()
		if de.IsDir() {
			if strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !de.Type().IsRegular() || !isTemp(name) {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(s.root, p)
		out = append(out, registry.Entry{Key: filepath.ToSlash(rel), Info: registry.Info{Size: info.Size(), ModTime: info.ModTime()}})
		return nil
	})
	return out, err
}

// isTemp reports whether name is a temp file of a write.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".tmp") || strings.HasPrefix(name, ".epack-upload-") && strings.HasSuffix(name, ".part"))
}

// RemoveLeftover removes one temp file Leftovers listed.
func (s *Store) RemoveLeftover(_ context.Context, key string) error {
	dir, name := path.Split(key)
	dir = strings.TrimSuffix(dir, "/")
	if !isTemp(name) || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("fsstore: %q is not a temp file", key)
	}
	if dir != "" {
		if _, _, err := split(dir + "/x"); err != nil {
			return err
		}
	}
	d, err := safefile.OpenDir(s.root, dir, false, dirPerm)
	if err != nil {
		if errors.Is(mapErr(err), registry.ErrNotFound) {
			return nil
		}
		return mapErr(err)
	}
	defer d.Close()
	if err := d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapErr(err)
	}
	return nil
}
