package registry

import (
	"context"
	"errors"
	"path"

	"github.com/evidencerelay/epack/protocol"
)

// Holder is optionally implemented by a store that can put objects under
// legal hold (S3 Object Lock): held objects cannot be deleted or
// overwritten until the hold is cleared, whatever their retention.
type Holder interface {
	// LegalHolds reports whether the store can hold objects at all.
	LegalHolds() bool
	// SetLegalHold sets (on) or clears the legal hold of key.
	SetLegalHold(ctx context.Context, key string, on bool) error
}

func (r *Registry) holds() bool {
	h, ok := r.store.(Holder)
	return ok && h.LegalHolds()
}

// Hold answers release.hold: the legal hold of everything the release is
// made of — its pack blob and each of its records in the release log — is
// set or cleared.
func (r *Registry) Hold(ctx context.Context, req *protocol.HoldRequest) (*protocol.HoldResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	h, ok := r.store.(Holder)
	if !ok || !h.LegalHolds() {
		return nil, protocol.Errorf(protocol.CodeUnsupportedProtocol, "this registry cannot hold objects (legal holds need S3 Object Lock on the bucket)")
	}
	if !ValidReleaseID(req.ReleaseID) {
		return nil, invalid("release_id %q is not a release id (rel_<26 characters>)", truncate(req.ReleaseID))
	}
	sc, err := newScope(protocol.TargetConfig{Workspace: req.Target.Workspace, Environment: req.Target.Environment}, false)
	if err != nil {
		return nil, err
	}
	var ptr pointer
	if _, err := r.getJSON(ctx, path.Join(sc.allDir(), "releases", req.ReleaseID+".json"), &ptr); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "release %s not found in this workspace/environment", req.ReleaseID)
		}
		return nil, storeErr(err, "finding release %s", req.ReleaseID)
	}
	if CheckName(KindStream, ptr.Stream) != nil || ptr.ReleaseID != req.ReleaseID {
		return nil, protocol.Errorf(protocol.CodeServerError, "the index entry of release %s is corrupt", req.ReleaseID)
	}
	rs := sc
	rs.stream, rs.streamSeg = ptr.Stream, EscapeName(ptr.Stream)
	rel, err := r.releaseState(ctx, rs, req.ReleaseID)
	if err != nil {
		return nil, storeErr(err, "reading release %s", req.ReleaseID)
	}
	fileHex, err := ParseDigest("file_digest", rel.FileDigest)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeServerError, "release %s is corrupt: %v", req.ReleaseID, err)
	}
	keys := []string{blobKey(fileHex), rs.releaseKey(req.ReleaseID)}
	later, err := r.store.List(ctx, path.Join(path.Dir(rs.releaseKey(req.ReleaseID)), req.ReleaseID)+"/", 0)
	if err != nil {
		return nil, storeErr(err, "listing the records of release %s", req.ReleaseID)
	}
	for _, e := range later {
		keys = append(keys, e.Key)
	}
	out := &protocol.HoldResponse{ReleaseID: req.ReleaseID, Hold: req.Hold, Objects: []string{}}
	for _, k := range keys {
		if err := h.SetLegalHold(ctx, k, req.Hold); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return nil, storeErr(err, "setting the legal hold of %s", k)
		}
		out.Objects = append(out.Objects, k)
	}
	return out, nil
}
