//go:build unix

package fsstore

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Write-once, as far as a directory allows: release records are written
// read-only (0444), like pack blobs, and the store never replaces a
// read-only file (Put, CompareAndSwap) nor deletes a release record. This
// keeps the adapter from changing history; someone with write access to the
// folder can still do anything (epack log verify notices).

var _ registry.Sealer = (*Store)(nil)

// recordPrefix is where release records live (registry layout).
const recordPrefix = "releases/"

// CreateSealed writes data read-only at key unless key exists. until is
// not kept: a directory has no retention.
func (s *Store) CreateSealed(_ context.Context, key string, data []byte, _ time.Time) error {
	return s.writeMode(key, strings.NewReader(string(data)), false, blobPerm)
}

// SealBlob makes the blob read-only (Promote already does).
func (s *Store) SealBlob(_ context.Context, key string, _ time.Time) error {
	d, name, err := s.dir(key, false)
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := d.OpenFile(name)
	if err != nil {
		return mapErr(err)
	}
	defer f.Close()
	return f.Chmod(blobPerm)
}

// CanRetain is false: a directory keeps no retention.
func (s *Store) CanRetain() bool { return false }

// refuseSealed refuses to replace a read-only file.
func refuseSealed(d *safefile.Dir, name, key string) error {
	f, err := d.OpenFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // not a regular file: the write reports it
	}
	defer f.Close()
	st, err := f.Stat()
	if err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o222 == 0 {
		return protocol.Errorf(protocol.CodeConflict, "%s is read-only (a sealed record or pack blob): this registry never replaces it", key)
	}
	return nil
}

// refuseRecordDelete refuses to delete a release record.
func refuseRecordDelete(key string) error {
	if strings.HasPrefix(key, recordPrefix) {
		return protocol.Errorf(protocol.CodeForbidden, "%s is a release record: this registry never deletes one", key)
	}
	return nil
}
