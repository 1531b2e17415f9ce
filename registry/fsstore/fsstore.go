//go:build unix

package fsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

const (
	dirPerm  = 0o755
	filePerm = 0o644
	blobPerm = 0o444
	lockDir  = ".locks"
)

// Store is a registry in a local directory.
type Store struct {
	root string
}

var _ registry.Store = (*Store)(nil)

// New opens (creating it if needed) the registry directory root, which must
// be an absolute path and not a symbolic link.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, protocol.Errorf(protocol.CodeInvalidRequest,
			"the filesystem registry needs transport.file_root: set it in the remote's epack.yaml entry (EPACK_REMOTE_FILE_ROOT is empty)")
	}
	if !filepath.IsAbs(root) {
		return nil, protocol.Errorf(protocol.CodeInvalidRequest, "registry root %q (transport.file_root) must be an absolute path", root)
	}
	root = filepath.Clean(root)
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidRequest, "creating registry root %s: %v", root, err)
	}
	d, err := safefile.OpenDir(root, "", false, dirPerm)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidRequest, "registry root %s: %v", root, err)
	}
	d.Close()
	return &Store{root: root}, nil
}

// Root returns the registry directory.
func (s *Store) Root() string { return s.root }

// split maps a registry key to (folder, file name) relative to the root,
// refusing anything that is not a plain relative key.
func split(key string) (string, string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) || strings.Contains(key, "\\") {
		return "", "", fmt.Errorf("invalid key %q", key)
	}
	for _, p := range strings.Split(key, "/") {
		if p == "" || p == "." || p == ".." || strings.HasPrefix(p, ".") {
			return "", "", fmt.Errorf("invalid key %q", key)
		}
	}
	dir, name := path.Split(key)
	return strings.TrimSuffix(dir, "/"), name, nil
}

func (s *Store) dir(key string, create bool) (*safefile.Dir, string, error) {
	dir, name, err := split(key)
	if err != nil {
		return nil, "", err
	}
	d, err := safefile.OpenDir(s.root, dir, create, dirPerm)
	if err != nil {
		return nil, "", mapErr(err)
	}
	return d, name, nil
}

// mapErr turns a missing file or folder into registry.ErrNotFound and a
// symbolic link into an invalid_request error.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %v", registry.ErrNotFound, err)
	case errcode.Has(err, errcode.SymlinkNotAllowed):
		return protocol.Wrapf(protocol.CodeServerError, err, "registry directory contains a symbolic link")
	case errcode.Has(err, errcode.PermissionDenied):
		return protocol.Wrapf(protocol.CodeForbidden, err, "registry directory not accessible")
	}
	return err
}

func (s *Store) open(key string) (*os.File, error) {
	d, name, err := s.dir(key, false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	f, err := d.OpenFile(name)
	if err != nil {
		return nil, mapErr(err)
	}
	return f, nil
}

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// Get reads a small object.
func (s *Store) Get(_ context.Context, key string, max int64) ([]byte, registry.Info, error) {
	f, err := s.open(key)
	if err != nil {
		return nil, registry.Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, registry.Info{}, err
	}
	if st.Size() > max {
		return nil, registry.Info{}, fmt.Errorf("object %s is %d bytes, limit %d", key, st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, registry.Info{}, err
	}
	if int64(len(data)) > max {
		return nil, registry.Info{}, fmt.Errorf("object %s is larger than %d bytes", key, max)
	}
	return data, registry.Info{Size: int64(len(data)), ETag: etagOf(data), ModTime: st.ModTime()}, nil
}

// Head stats an object without following links.
func (s *Store) Head(_ context.Context, key string) (registry.Info, error) {
	f, err := s.open(key)
	if err != nil {
		return registry.Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return registry.Info{}, err
	}
	return registry.Info{Size: st.Size(), ModTime: st.ModTime()}, nil
}

// write stores r durably at key: temp file in the target folder, fsync, rename.
func (s *Store) write(key string, r io.Reader, replace bool) error {
	return s.writeMode(key, r, replace, filePerm)
}

// writeMode is write with the file's permissions. A read-only file (a
// sealed record or blob) is never replaced.
func (s *Store) writeMode(key string, r io.Reader, replace bool, perm os.FileMode) error {
	d, name, err := s.dir(key, true)
	if err != nil {
		return err
	}
	defer d.Close()
	if replace {
		if err := refuseSealed(d, name, key); err != nil {
			return err
		}
	}
	tmp, err := d.CreateTemp("." + name + ".*.tmp")
	if err != nil {
		return mapErr(err)
	}
	if _, err := io.Copy(tmp, r); err != nil {
		_ = d.Remove(filepath.Base(tmp.Name()))
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = d.Remove(filepath.Base(tmp.Name()))
		tmp.Close()
		return err
	}
	err = d.Commit(tmp, name, replace)
	if errcode.Has(err, errcode.OutputExists) {
		return registry.ErrExists
	}
	return mapErr(err)
}

// Put writes an object atomically, replacing it.
func (s *Store) Put(_ context.Context, key string, r io.Reader, _ int64) error {
	return s.write(key, r, true)
}

// CreateIfAbsent writes a complete object only if none exists (rename without replace).
func (s *Store) CreateIfAbsent(_ context.Context, key string, data []byte) error {
	return s.write(key, strings.NewReader(string(data)), false)
}

// CompareAndSwap replaces key under an exclusive flock on a per-key lock
// file, so it is safe across processes; readers never see a partial object.
func (s *Store) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	if _, _, err := split(key); err != nil {
		return "", err
	}
	if etag == "" {
		// Creation needs no lock: renaming without replace is atomic.
		if err := s.CreateIfAbsent(ctx, key, data); err != nil {
			if errors.Is(err, registry.ErrExists) {
				return "", registry.ErrConflict
			}
			return "", err
		}
		return etagOf(data), nil
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, info, err := s.Get(ctx, key, 1<<30)
	if errors.Is(err, registry.ErrNotFound) {
		return "", registry.ErrConflict
	}
	if err != nil {
		return "", err
	}
	_ = cur
	if info.ETag != etag {
		return "", registry.ErrConflict
	}
	if err := s.write(key, strings.NewReader(string(data)), true); err != nil {
		return "", err
	}
	return etagOf(data), nil
}

// lock takes an exclusive flock on <root>/.locks/<hash of key>.
func (s *Store) lock(ctx context.Context, key string) (func(), error) {
	d, err := safefile.OpenDir(s.root, lockDir, true, 0o700)
	if err != nil {
		return nil, mapErr(err)
	}
	name := etagOf([]byte(key)) + ".lock"
	p := filepath.Join(d.Path(), name)
	f, err := d.OpenLock(name, 0o600)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", p, err)
	}
	// The flock lives as long as f: the release func keeps f reachable, so
	// no finalizer closes it while the lock is held.
	fd := int(f.Fd())
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(fd, unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// List walks prefix without following symbolic links; dot files (temps,
// locks) are skipped.
func (s *Store) List(_ context.Context, prefix string, limit int) ([]registry.Entry, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	if _, _, err := split(prefix + "/x"); err != nil {
		return nil, err
	}
	base := filepath.Join(s.root, filepath.FromSlash(prefix))
	var out []registry.Entry
	stop := errors.New("stop")
	err := filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(de.Name(), ".") && p != base {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !de.Type().IsRegular() {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(s.root, p)
		out = append(out, registry.Entry{Key: filepath.ToSlash(rel), Info: registry.Info{Size: info.Size(), ModTime: info.ModTime()}})
		if limit > 0 && len(out) >= limit {
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	return out, nil
}

// Delete removes an object; a release record never (seal.go).
func (s *Store) Delete(_ context.Context, key string) error {
	if err := refuseRecordDelete(key); err != nil {
		return err
	}
	d, name, err := s.dir(key, false)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return mapErr(d.Remove(name))
}

func (s *Store) fileURL(key string) string {
	return (&url.URL{Scheme: "file", Path: filepath.Join(s.root, filepath.FromSlash(key))}).String()
}

// UploadTarget hands out a file:// URL for the staging path (inside the
// root, which the remote must name as transport.file_root).
func (s *Store) UploadTarget(_ context.Context, staging, _ string, _ registry.Blob, expiry time.Duration) (protocol.TransferTarget, string, error) {
	d, _, err := s.dir(staging, true)
	if err != nil {
		return protocol.TransferTarget{}, "", err
	}
	d.Close()
	return protocol.TransferTarget{
		Method:    "PUT",
		URL:       s.fileURL(staging),
		ExpiresAt: time.Now().Add(expiry).UTC().Format(time.RFC3339),
	}, staging, nil
}

// DownloadTarget hands out the blob's file:// URL.
func (s *Store) DownloadTarget(_ context.Context, key string, _ time.Duration) (protocol.TransferTarget, error) {
	return protocol.TransferTarget{Method: "GET", URL: s.fileURL(key)}, nil
}

// hashFile returns f's size and SHA-256 hex from the start.
func hashFile(f *os.File) (int64, string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// BlobMatches re-hashes the blob: the directory is shared, so its bytes
// are checked rather than trusted.
func (s *Store) BlobMatches(_ context.Context, key string, b registry.Blob) (bool, error) {
	f, err := s.open(key)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() != b.Size {
		return false, nil
	}
	n, sum, err := hashFile(f)
	if err != nil {
		return false, err
	}
	return n == b.Size && sum == b.SHA256Hex, nil
}

// Promote re-hashes the staged upload (opened without following links),
// makes it read-only and renames it to the blob key without replacing an
// existing blob. Wrong bytes are deleted and reported as ErrMismatch.
func (s *Store) Promote(ctx context.Context, staging, key string, b registry.Blob) error {
	if staging == key {
		return fmt.Errorf("fsstore: uploads always go to a staging file")
	}
	sd, sname, err := s.dir(staging, false)
	if err != nil {
		return err
	}
	defer sd.Close()
	f, err := sd.OpenFile(sname)
	if err != nil {
		return mapErr(err)
	}
	n, sum, err := hashFile(f)
	if err != nil {
		f.Close()
		return err
	}
	if n != b.Size || sum != b.SHA256Hex {
		f.Close()
		_ = sd.Remove(sname)
		if n != b.Size {
			return fmt.Errorf("%w: %d bytes arrived, expected %d", registry.ErrMismatch, n, b.Size)
		}
		return fmt.Errorf("%w: sha256:%s arrived, expected sha256:%s", registry.ErrMismatch, sum, b.SHA256Hex)
	}
	if err := f.Chmod(blobPerm); err != nil {
		f.Close()
		return err
	}
	bd, bname, err := s.dir(key, true)
	if err != nil {
		f.Close()
		return err
	}
	defer bd.Close()
	// A regular file at the content address that does not hold these bytes
	// was damaged or edited by hand: the verified upload replaces it (the S3
	// store heals the same way), so the pack is not blocked for good.
	replace := false
	if m, lerr := bd.Lstat(bname); lerr == nil && m.IsRegular() {
		if ok, herr := s.BlobMatches(ctx, key, b); herr == nil && !ok {
			replace = true
		}
	}
	err = bd.Commit(f, bname, replace) // closes f; removes the staging name on failure
	if errcode.Has(err, errcode.OutputExists) {
		// Another push stored the same bytes first; keep that blob.
		ok, herr := s.BlobMatches(ctx, key, b)
		if herr != nil || !ok {
			// Not retryable: a retry finds the staging file gone and would
			// report a missing upload instead of this.
			return protocol.Errorf(protocol.CodeConflict, "blob %s exists with different content or is not a regular file: the registry directory was modified by hand", key)
		}
		return nil
	}
	return mapErr(err)
}

// Whoami reports the local user and the registry directory.
func (s *Store) Whoami(context.Context) (string, string, error) {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = fmt.Sprintf("uid:%d", os.Getuid())
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		name += "@" + host
	}
	if _, err := os.Stat(s.root); err != nil {
		return "", "", protocol.Errorf(protocol.CodeNotFound, "registry directory %s: %v", s.root, err)
	}
	return name, s.root, nil
}

var _ registry.OrderedLister = (*Store)(nil)

// ListAfter walks prefix in key order from after, reading only the folders
// on the way: a folder whose keys all sort before after is skipped without
// being read, and the walk stops at limit objects. Symbolic links and dot
// files (temps, locks) are skipped, as List does.
func (s *Store) ListAfter(_ context.Context, prefix, after string, limit int) ([]registry.Entry, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	if _, _, err := split(prefix + "/x"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("fsstore: ListAfter needs a positive limit")
	}
	d, err := safefile.OpenDir(s.root, prefix, false, dirPerm)
	if err != nil {
		if errors.Is(mapErr(err), registry.ErrNotFound) {
			return nil, nil
		}
		return nil, mapErr(err)
	}
	defer d.Close()
	var out []registry.Entry
	err = s.walkAfter(d, prefix+"/", after, limit, &out)
	return out, err
}

// walkAfter lists the open folder d (key prefix keyDir, ending in '/') into
// out in key order, descending through handles opened from d.
func (s *Store) walkAfter(d *safefile.Dir, keyDir, after string, limit int, out *[]registry.Entry) error {
	ents, err := d.ReadDir()
	if err != nil {
		return err // names the folder
	}
	// A folder's keys all start with "<name>/", so it sorts as name+"/".
	type item struct {
		sortKey string
		ent     fs.DirEntry
	}
	items := make([]item, 0, len(ents))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		switch {
		case e.IsDir():
			items = append(items, item{keyDir + e.Name() + "/", e})
		case e.Type().IsRegular():
			items = append(items, item{keyDir + e.Name(), e})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, it := range items {
		if len(*out) >= limit {
			return nil
		}
		if !it.ent.IsDir() {
			if it.sortKey <= after {
				continue
			}
			info, err := it.ent.Info()
			if err != nil {
				continue // removed meanwhile
			}
			*out = append(*out, registry.Entry{Key: it.sortKey, Info: registry.Info{Size: info.Size(), ModTime: info.ModTime()}})
			continue
		}
		// Every key below sorts before after: skip the folder unread.
		if it.sortKey < after && !strings.HasPrefix(after, it.sortKey) {
			continue
		}
		sub, err := d.OpenDir(it.ent.Name())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			return err // names the folder
		}
		err = s.walkAfter(sub, it.sortKey, after, limit, out)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
