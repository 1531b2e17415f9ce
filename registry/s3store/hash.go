package s3store

import (
	"context"

	"github.com/evidencerelay/epack/registry"
)

var _ registry.BlobHasher = (*Store)(nil)

// HashBlob reads the object at key back and returns its SHA-256 hex and
// size (blobs.check of the release log: the bytes are checked, not the
// metadata that says what they are).
func (s *Store) HashBlob(ctx context.Context, key string) (string, int64, error) {
	return s.hashObject(ctx, key, "")
}
