package registry

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Store errors. Stores return these (possibly wrapped) so the registry can
// tell the outcomes of conditional operations apart.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: CreateIfAbsent found the object already there.
	ErrExists = errors.New("object already exists")
	// ErrConflict: CompareAndSwap lost (the object changed or appeared).
	ErrConflict = errors.New("object changed concurrently")
	// ErrMismatch: an uploaded blob does not have the expected size or digest.
	ErrMismatch = errors.New("uploaded bytes do not match")
)

// Info describes a stored object.
type Info struct {
	Size    int64
	ETag    string // opaque version token for CompareAndSwap
	ModTime time.Time
}

// Entry is one listed object.
type Entry struct {
	Key string
	Info
}

// Blob is what a pack blob must be: its size, SHA-256 (64 hex) and MD5
// (base64, as sent in pack.checksum; may be empty).
type Blob struct {
	Size      int64
	SHA256Hex string
	MD5Base64 string
}

// Store is the storage the registry runs on. Keys are '/'-separated relative
// names built by the registry from escaped segments; a store maps them below
// its root (directory or bucket prefix) and never lets one leave it.
type Store interface {
	// Get reads a small object whole; more than max bytes is an error.
	Get(ctx context.Context, key string, max int64) ([]byte, Info, error)
	// Put writes an object unconditionally (atomically replacing it).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// CreateIfAbsent writes data only if key does not exist (ErrExists otherwise).
	CreateIfAbsent(ctx context.Context, key string, data []byte) error
	// CompareAndSwap replaces key's content if its ETag is still etag; etag ""
	// means "only if absent". Returns the new ETag; ErrConflict when it lost.
	CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error)
	// Head returns an object's info or ErrNotFound.
	Head(ctx context.Context, key string) (Info, error)
	// List returns the objects under prefix (a key prefix ending in '/'),
	// recursively, at most limit (0 = all), in no particular order.
	List(ctx context.Context, prefix string, limit int) ([]Entry, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// UploadTarget tells the client how to upload blob b, whose content
	// address is blob, using the one-time key staging if the store needs it.
	// It returns the key the upload lands at (staging or blob), to be passed
	// to Promote.
	UploadTarget(ctx context.Context, staging, blob string, b Blob, expiry time.Duration) (protocol.TransferTarget, string, error)
	// DownloadTarget tells the client how to download key.
	DownloadTarget(ctx context.Context, key string, expiry time.Duration) (protocol.TransferTarget, error)
	// BlobMatches reports whether key holds exactly b (size and digest).
	BlobMatches(ctx context.Context, key string, b Blob) (bool, error)
	// Promote checks the upload at uploaded against b (never trusting the
	// client: size and SHA-256 of what arrived) and makes it the blob at key
	// (uploaded may equal key). ErrNotFound when nothing was uploaded,
	// ErrMismatch when the bytes differ (the upload is then removed). A key
	// that already holds b is kept.
	Promote(ctx context.Context, uploaded, key string, b Blob) error
}

// Describer is optionally implemented by a store to say where it is and who
// it acts as (for auth.whoami).
type Describer interface {
	Whoami(ctx context.Context) (subject, location string, err error)
}

// OrderedLister is optionally implemented by a store that can list keys in
// order from a starting point (S3's ListObjectsV2 StartAfter; a sorted,
// pruned directory walk), so a page of a large listing costs about the page
// and not the whole prefix. Stores without it are listed whole and sorted.
type OrderedLister interface {
	// ListAfter returns at most limit (> 0) objects under prefix (ending
	// in '/') whose keys sort after after ("" = from the first), in
	// ascending byte order of the key, recursively.
	ListAfter(ctx context.Context, prefix, after string, limit int) ([]Entry, error)
}

// listAfter is OrderedLister.ListAfter on any store.
func listAfter(ctx context.Context, s Store, prefix, after string, limit int) ([]Entry, error) {
	if ol, ok := s.(OrderedLister); ok {
		return ol.ListAfter(ctx, prefix, after, limit)
	}
	all, err := s.List(ctx, prefix, 0)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	i, _ := slices.BinarySearchFunc(all, after, func(e Entry, k string) int { return strings.Compare(e.Key, k) })
	for i < len(all) && all[i].Key <= after {
		i++
	}
	all = all[i:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}
