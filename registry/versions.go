package registry

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// A version names one pack of a stream for good. Before a push gives a
// release a version it did not have, it claims the version for its pack:
//
//	streams/<ws>/<env>/<stream>/claims/<version>.json   {version, stream, file_digest, claimed_at}
//
// created with a conditional create, so of two pushes of different packs
// with one version only one can win. A claim is kept (the version is taken)
// once the release of its pack carries the version; a claim whose pack
// never got it (the push died or lost a race after claiming) is stale after
// claimLease and may be taken over. Releases recorded before claims existed
// hold their versions through the stream's versions/<version>.json pointer.

// claimLease is how long a claim whose pack does not carry the version yet
// keeps the version from other packs: far longer than any push between its
// claim and its release record.
const claimLease = 15 * time.Minute

// versionClaim is the content of a claim.
type versionClaim struct {
	Version    string    `json:"version"`
	Stream     string    `json:"stream"`
	FileDigest string    `json:"file_digest"`
	ClaimedAt  time.Time `json:"claimed_at"`
}

func (s scope) claimKey(v string) string {
	return path.Join(s.streamDir(), "claims", shortSegment(v)+".json")
}

// publishPlan is what a push is about to do to its stream, worked out
// before anything is written.
type publishPlan struct {
	// existing is the release of this pack in the stream, if it has one.
	existing *Release
	// versions are the versions the push gives the release that it does not
	// have yet; each must be claimed.
	versions []string
}

// planPublish checks, reading only, that publishing the pack fileHex in sc
// with release metadata ri breaks no rule: no version it adds names another
// pack of the stream, and notes never replace different notes. push.prepare
// runs it to refuse early (before any upload), push.finalize before it
// claims and writes.
func (r *Registry) planPublish(ctx context.Context, sc scope, fileHex string, ri protocol.ReleaseInfo, remote string) (*publishPlan, error) {
	plan := &publishPlan{}
	existing, err := r.releaseOfPack(ctx, sc, fileHex)
	if err != nil {
		return nil, err
	}
	plan.existing = existing
	var have []string
	if existing != nil {
		if err := notesConflict(existing, ri.Notes); err != nil {
			return nil, err
		}
		have = versionsOf(existing.Labels)
	}
	digest := "sha256:" + fileHex
	for _, v := range versionsOf(ri.Labels) {
		if slices.Contains(have, v) {
			continue // the release has it already: pushing it again is fine
		}
		if err := r.checkVersionFree(ctx, sc, v, digest, remote); err != nil {
			return nil, err
		}
		plan.versions = append(plan.versions, v)
	}
	slices.Sort(plan.versions)
	return plan, nil
}

// releaseOfPack returns the release of pack fileHex in sc's stream (nil
// when it has none). The digest marker holds the release as created; its
// newest record, when there, is newer.
func (r *Registry) releaseOfPack(ctx context.Context, sc scope, fileHex string) (*Release, error) {
	marker := path.Join(sc.streamDir(), "digests", fileHex+".json")
	var draft Release
	if _, err := r.getJSON(ctx, marker, &draft); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, storeErr(err, "reading the release of this pack")
	}
	if !ValidReleaseID(draft.ReleaseID) || draft.Stream != sc.stream {
		return nil, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", marker)
	}
	rel, err := r.releaseState(ctx, sc, draft.ReleaseID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &draft, nil
		}
		return nil, storeErr(err, "reading release %s", draft.ReleaseID)
	}
	return rel, nil
}

// notesConflict refuses notes that differ from the notes a release has:
// notes are added to a release without notes, never replaced or dropped.
func notesConflict(rel *Release, notes string) error {
	if notes == "" || rel.Notes == "" || notes == rel.Notes {
		return nil
	}
	return protocol.Errorf(protocol.CodeConflict,
		"release %s of this pack in stream %q already has different notes; notes are never replaced, so this push was refused and nothing changed",
		rel.ReleaseID, rel.Stream)
}

// checkVersionFree returns nil when version v of sc's stream is free, is
// this pack's, or is held by a stale claim; otherwise the conflict.
func (r *Registry) checkVersionFree(ctx context.Context, sc scope, v, digest, remote string) error {
	var c versionClaim
	_, err := r.getJSON(ctx, sc.claimKey(v), &c)
	switch {
	case err == nil:
		if c.FileDigest == digest {
			return nil
		}
		_, err := r.claimHolder(ctx, sc, v, &c, remote)
		return err
	case !errors.Is(err, ErrNotFound):
		return storeErr(err, "reading the claim of version %s", v)
	}
	// No claim: a release recorded before claims existed may hold it.
	var ptr pointer
	_, err = r.getJSON(ctx, path.Join(sc.streamDir(), "versions", EscapeName(v)+".json"), &ptr)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return storeErr(err, "reading version %s", v)
	case ptr.FileDigest != digest && ValidReleaseID(ptr.ReleaseID):
		return versionTaken(sc, v, ptr.ReleaseID, ptr.FileDigest, remote)
	}
	return nil
}

// claimHolder says who holds a claim of another pack: an error naming the
// release that carries the version, or saying a concurrent push is claiming
// it; (true, nil) when the claim is stale and may be taken over.
func (r *Registry) claimHolder(ctx context.Context, sc scope, v string, c *versionClaim, remote string) (stale bool, err error) {
	hex, perr := ParseDigest("claim file_digest", c.FileDigest)
	if perr != nil {
		return false, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", sc.claimKey(v))
	}
	holder, err := r.releaseOfPack(ctx, sc, hex)
	if err != nil {
		return false, err
	}
	if holder != nil && slices.Contains(versionsOf(holder.Labels), v) {
		return false, versionTaken(sc, v, holder.ReleaseID, c.FileDigest, remote)
	}
	if r.opt.Now().Sub(c.ClaimedAt) > claimLease {
		return true, nil
	}
	return false, protocol.Errorf(protocol.CodeConflict,
		"version %q of stream %q is being given to another pack (file %s) by a push running now; a version names one pack, so this push was refused and nothing changed",
		v, sc.stream, c.FileDigest)
}

// versionTaken is the refusal of a version another release holds, with a
// hint naming that release.
func versionTaken(sc scope, v, releaseID, fileDigest, remote string) error {
	if remote == "" {
		remote = "<remote>"
	}
	e := protocol.Errorf(protocol.CodeConflict,
		"version %q of stream %q already names another pack: release %s (file %s); a version names one pack for good, so this push was refused and nothing changed (push this pack with a new version label)",
		v, sc.stream, releaseID, fileDigest)
	e.Action = &protocol.Action{Type: protocol.ActionRunCommand, Command: fmt.Sprintf("epack pull %s --release %s", remote, releaseID)}
	return e
}

// claimVersions claims each of versions (sorted) for the pack digest. It
// stops at the first version it cannot have, leaving the claims it made:
// they name this pack and are stale after claimLease unless it gets the
// version.
func (r *Registry) claimVersions(ctx context.Context, sc scope, versions []string, digest, remote string) error {
	for _, v := range versions {
		if err := r.claimVersion(ctx, sc, v, digest, remote); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) claimVersion(ctx context.Context, sc scope, v, digest, remote string) error {
	key := sc.claimKey(v)
	mine := mustJSON(versionClaim{Version: v, Stream: sc.stream, FileDigest: digest, ClaimedAt: r.opt.Now().UTC()})
	for attempt := 0; attempt < 8; attempt++ {
		err := r.store.CreateIfAbsent(ctx, key, mine)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return storeErr(err, "claiming version %s", v)
		}
		var c versionClaim
		info, err := r.getJSON(ctx, key, &c)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile: try again
		}
		if err != nil {
			return storeErr(err, "reading the claim of version %s", v)
		}
		if c.FileDigest == digest {
			return nil // a push of the same pack claimed it
		}
		stale, err := r.claimHolder(ctx, sc, v, &c, remote)
		if err != nil {
			return err
		}
		if stale {
			if _, err := r.store.CompareAndSwap(ctx, key, info.ETag, mine); err == nil {
				return nil
			} else if !errors.Is(err, ErrConflict) {
				return storeErr(err, "taking over the stale claim of version %s", v)
			}
		}
	}
	return protocol.Errorf(protocol.CodeConflict, "too much contention claiming version %s of stream %q; try again", v, sc.stream)
}
