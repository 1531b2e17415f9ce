package registry

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/evidencerelay/epack/protocol"
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
	// CanRetain reports whether sealed objects are kept for a time
	// (retention), which a push may ask to lengthen (release.retain).
	CanRetain() bool
}

// RetentionRuler is optionally implemented by a Sealer that retains what
// it seals for a fixed period from when it is written (S3 Object Lock's
// default retention): its mode (protocol.RetentionGovernance or
// protocol.RetentionCompliance) and that period; mode "" when it retains
// nothing.
type RetentionRuler interface {
	RetentionRule() (mode string, period time.Duration)
}

// Preflighter is optionally implemented by a store that must check its
// setup before a push writes anything (S3: the bucket has Object Lock when
// the remote asks for it).
type Preflighter interface {
	Preflight(ctx context.Context) error
}

// createSealed writes a record that is never replaced.
func (r *Registry) createSealed(ctx context.Context, key string, data []byte, until time.Time) error {
	if s, ok := r.store.(Sealer); ok {
		return s.CreateSealed(ctx, key, data, until)
	}
	return r.store.CreateIfAbsent(ctx, key, data)
}

// canRetain reports whether the store keeps sealed objects for a time.
func (r *Registry) canRetain() bool {
	s, ok := r.store.(Sealer)
	return ok && s.CanRetain()
}

// checkRetain refuses a retention request the registry cannot honour.
func (r *Registry) checkRetain(retain string) error {
	if retain == "" {
		return nil
	}
	if _, err := protocol.ParseRetention(retain); err != nil {
		return invalid("release.retain: %v", err)
	}
	if !r.canRetain() {
		return invalid("this registry keeps no retention (write-once storage needs S3 Object Lock: extensions.object_lock); push without --retain")
	}
	return nil
}

// retainUntil is when a push asking for retain wants its release kept
// until (zero: the store's own rule).
func (r *Registry) retainUntil(retain string) time.Time {
	d, err := protocol.ParseRetention(retain)
	if retain == "" || err != nil {
		return time.Time{}
	}
	return r.opt.Now().Add(d).UTC()
}

// sealRelease retains what a release is made of: its pack blob, and with
// an explicit until (push --retain) every record of it too, each never
// shorter than it is retained already.
func (r *Registry) sealRelease(ctx context.Context, sc scope, rel *Release, until time.Time) error {
	s, ok := r.store.(Sealer)
	if !ok || !s.CanRetain() {
		return nil
	}
	fileHex, err := ParseDigest("file_digest", rel.FileDigest)
	if err != nil {
		return err
	}
	keys := []string{blobKey(fileHex)}
	if !until.IsZero() {
		keys = append(keys, sc.releaseKey(rel.ReleaseID))
		later, err := r.store.List(ctx, path.Join(path.Dir(sc.releaseKey(rel.ReleaseID)), rel.ReleaseID)+"/", 0)
		if err != nil {
			return storeErr(err, "listing the records of release %s", rel.ReleaseID)
		}
		for _, e := range later {
			keys = append(keys, e.Key)
		}
	}
	for _, k := range keys {
		if err := s.SealBlob(ctx, k, until); err != nil && !errors.Is(err, ErrNotFound) {
			return storeErr(err, "retaining %s", k)
		}
	}
	return nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b.UTC()
	}
	return a
}

// retentionOf is how long the registry keeps rel (nil when it keeps no
// retention): the later of the store's period from the release's creation
// and what a push asked for (rel.RetainUntil), in the whole seconds the
// store rounds retention up to.
func (r *Registry) retentionOf(rel *Release) *protocol.Retention {
	rr, ok := r.store.(RetentionRuler)
	if !ok || !r.canRetain() {
		return nil
	}
	mode, period := rr.RetentionRule()
	if mode == "" {
		return nil
	}
	until := later(rel.CreatedAt.Add(period), rel.RetainUntil)
	return protocol.NewRetention(mode, until.UTC().Truncate(time.Second).Add(time.Second), false)
}

// retention is retentionOf with the legal hold of the release's first
// record read from the store, when it reads them (Retainer). An error
// reading it leaves the hold out: the answer is informational.
func (r *Registry) retention(ctx context.Context, sc scope, rel *Release) *protocol.Retention {
	ret := r.retentionOf(rel)
	if ret == nil || !r.holds() {
		return ret
	}
	if rt, ok := r.store.(Retainer); ok {
		if _, held, err := rt.Retained(ctx, sc.releaseKey(rel.ReleaseID)); err == nil {
			ret.LegalHold = held
		}
	}
	return ret
}
