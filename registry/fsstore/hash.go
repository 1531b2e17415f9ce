//go:build unix

package fsstore

import (
	"context"

	"github.com/evidencerelay/epack/registry"
)

var _ registry.BlobHasher = (*Store)(nil)

// HashBlob hashes the file at key (opened without following links) and
// returns its SHA-256 hex and size.
func (s *Store) HashBlob(_ context.Context, key string) (string, int64, error) {
	f, err := s.open(key)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	n, sum, err := hashFile(f)
	return sum, n, err
}
