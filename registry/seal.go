package registry

import (
	"context"
	"time"
)

// Sealer is optionally implemented by a store that can write an object so
// that it is not changed or deleted afterwards: read-only files that the
// store never replaces or removes (fsstore), Object Lock retention (S3).
// The registry writes release records and pack blobs that way.
type Sealer interface {
	// CreateSealed is CreateIfAbsent for an object kept at least until
	// until (zero: the store's own rule, if it has one).
	CreateSealed(ctx context.Context, key string, data []byte, until time.Time) error
	// SealBlob seals the pack blob at key at least until until (zero: the
	// store's own rule); a store that seals blobs as it promotes them may
	// do nothing.
	SealBlob(ctx context.Context, key string, until time.Time) error
}

// createSealed writes a record that is never replaced.
func (r *Registry) createSealed(ctx context.Context, key string, data []byte) error {
	if s, ok := r.store.(Sealer); ok {
		return s.CreateSealed(ctx, key, data, time.Time{})
	}
	return r.store.CreateIfAbsent(ctx, key, data)
}
