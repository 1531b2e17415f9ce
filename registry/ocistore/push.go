package ocistore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// pushIn is a checked push: what prepare was asked, and what the finalize
// token carries back.
type pushIn struct {
	Target         protocol.TargetConfig `json:"t"`
	FileHex        string                `json:"f"`
	Size           int64                 `json:"s"`
	PackDigest     string                `json:"p,omitempty"`
	ManifestDigest string                `json:"m,omitempty"`
	Remote         string                `json:"o,omitempty"`
	Release        protocol.ReleaseInfo  `json:"r"`
	// ByAdapter: prepare uploaded the layer itself (finalize says so; the
	// host only shows it).
	ByAdapter bool `json:"a,omitempty"`

	repo string // repository path
}

func (in *pushIn) fileDigest() string { return "sha256:" + in.FileHex }

func (in *pushIn) layer() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.Digest(in.fileDigest()), Size: in.Size}
}

// check validates a push and finds its repository. Finalize runs it again
// on what the token carries: the token passes through the host.
func (r *Registry) check(in *pushIn) error {
	if in.Target.Stream == "" {
		return bad("target.stream is required")
	}
	for _, n := range []struct{ kind, v string }{{registry.KindWorkspace, in.Target.Workspace}, {registry.KindEnvironment, in.Target.Environment}} {
		if n.v != "" {
			if err := registry.CheckName(n.kind, n.v); err != nil {
				return err
			}
		}
	}
	repo, err := r.cfg.Repository(in.Target)
	if err != nil {
		return err
	}
	in.repo = repo
	if _, err := registry.ParseDigest("pack.file_digest", in.fileDigest()); err != nil {
		return err
	}
	if in.Size <= 0 {
		return bad("pack.size_bytes must be positive, got %d", in.Size)
	}
	ri := in.Release
	if len(ri.Labels) > maxLabels {
		return bad("too many release labels (%d, limit %d)", len(ri.Labels), maxLabels)
	}
	for _, l := range ri.Labels {
		if err := registry.CheckName("label", l); err != nil {
			return err
		}
	}
	for _, v := range versionsOf(ri.Labels) {
		if _, err := VersionTag(v); err != nil {
			return err
		}
	}
	if len(ri.Notes) > maxNotesBytes {
		return bad("release notes too long (%d bytes, limit %d)", len(ri.Notes), maxNotesBytes)
	}
	if len(ri.BuildContext) > maxBuildContext {
		return bad("too many build_context entries (%d, limit %d)", len(ri.BuildContext), maxBuildContext)
	}
	n := 0
	for k, v := range ri.BuildContext {
		n += len(k) + len(v)
		if len(k) > 256 || len(v) > 4096 {
			return bad("build_context entry %q is too long", truncate(k))
		}
	}
	if n > maxBuildContextBytes {
		return bad("build_context is too large (%d bytes, limit %d)", n, maxBuildContextBytes)
	}
	if err := protocol.CheckSigners(ri.Signers); err != nil {
		return bad("release.%v", err)
	}
	for _, f := range []struct{ name, v string }{{"pack.digest", in.PackDigest}, {"pack.manifest_digest", in.ManifestDigest}, {"remote", in.Remote}} {
		if len(f.v) > 255 || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return bad("%s is too long or contains a control character", f.name)
		}
	}
	return nil
}

// plan is what a push would change, worked out reading only.
type plan struct {
	// existing is the release of this pack in the stream, if it has one.
	existing *found
	// versions are the versions the push adds, with their tags.
	versions []versionTag
}

type versionTag struct{ version, tag string }

// planPush checks that the push breaks no rule: the repository holds this
// target's stream; no version it adds names another pack; notes never
// replace different notes.
func (r *Registry) planPush(ctx context.Context, repo *remote.Repository, in *pushIn) (*plan, error) {
	p := &plan{}
	ex, err := r.lookup(ctx, repo, packTag(in.FileHex))
	if err != nil {
		return nil, err
	}
	if ex != nil && ex.rel.foreign {
		ex = nil // not epack's: a push makes the release
	}
	if ex != nil && ex.rel.FileDigest != in.fileDigest() {
		return nil, protocol.Errorf(protocol.CodeServerError, "tag %s of %s names another pack (%s)", packTag(in.FileHex), r.ref(repo), ex.rel.FileDigest)
	}
	owner := ex
	if owner == nil {
		if owner, err = r.lookup(ctx, repo, tagLatest); err != nil {
			return nil, err
		}
	}
	if owner != nil && !owner.rel.foreign && !inScope(owner.rel, in.Target, true) {
		return nil, protocol.Errorf(protocol.CodeConflict,
			"repository %s holds releases of %s, and this push is for %s: they map to one repository; use extensions.namespace with {workspace}/{environment}, or another stream name",
			r.ref(repo), describeScope(owner.rel.Stream, owner.rel.Workspace, owner.rel.Environment), describeScope(in.Target.Stream, in.Target.Workspace, in.Target.Environment))
	}
	p.existing = ex
	var have []string
	if ex != nil {
		if err := notesConflict(ex.rel, in.Release.Notes); err != nil {
			return nil, err
		}
		have = versionsOf(ex.rel.Labels)
	}
	for _, v := range versionsOf(in.Release.Labels) {
		if slices.Contains(have, v) {
			continue
		}
		tag, err := VersionTag(v)
		if err != nil {
			return nil, err
		}
		if err := r.versionFree(ctx, repo, in, v, tag); err != nil {
			return nil, err
		}
		p.versions = append(p.versions, versionTag{v, tag})
	}
	return p, nil
}

// versionFree returns nil when tag (of version v) is absent or names this
// pack; otherwise the conflict, naming the holder.
func (r *Registry) versionFree(ctx context.Context, repo *remote.Repository, in *pushIn, v, tag string) error {
	f, err := r.lookup(ctx, repo, tag)
	if err != nil || f == nil {
		return err
	}
	if f.rel.FileDigest != in.fileDigest() {
		return r.versionTaken(repo, in, v, f)
	}
	if !f.rel.foreign && !slices.Contains(versionsOf(f.rel.Labels), v) {
		return protocol.Errorf(protocol.CodeConflict, "tag %s of %s holds release %s, whose versions %v do not include %q (versions that differ only in '+' and '_' share a tag)",
			tag, r.ref(repo), f.rel.ID, versionsOf(f.rel.Labels), v)
	}
	return nil
}

// versionTaken is the refusal of a version another pack holds, with a hint
// naming that release.
func (r *Registry) versionTaken(repo *remote.Repository, in *pushIn, v string, holder *found) error {
	remoteName := in.Remote
	if remoteName == "" {
		remoteName = "<remote>"
	}
	who := "a manifest pushed without a release id (" + string(holder.desc.Digest) + ")"
	cmd := fmt.Sprintf("epack pull %s --version %s", remoteName, v)
	if holder.rel.ID != "" {
		who = "release " + holder.rel.ID
		cmd = fmt.Sprintf("epack pull %s --release %s", remoteName, holder.rel.ID)
	}
	e := protocol.Errorf(protocol.CodeConflict,
		"version %q of stream %q already names another pack: %s (file %s, tag %s:%s); a version names one pack for good, so this push was refused and nothing changed (push this pack with a new version label)",
		v, in.Target.Stream, who, holder.rel.FileDigest, r.ref(repo), holder.tag)
	e.Action = &protocol.Action{Type: protocol.ActionRunCommand, Command: cmd}
	return e
}

// notesConflict refuses notes that differ from the notes a release has.
func notesConflict(rel *release, notes string) error {
	if notes == "" || rel.Notes == "" || notes == rel.Notes {
		return nil
	}
	return protocol.Errorf(protocol.CodeConflict,
		"release %s of this pack in stream %q already has different notes; notes are never replaced, so this push was refused and nothing changed",
		rel.ID, rel.Stream)
}

// PushPrepare answers push.prepare. It refuses early what finalize would
// refuse, then gets the bytes to the registry: "skip" when the blob is
// there; the registry's upload URL when the host may use it without
// credentials; otherwise the adapter uploads pack.path itself and answers
// "skip". The finalize token carries the checked request.
func (r *Registry) PushPrepare(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
	if req.Pack.FileDigest == "" {
		return nil, bad("pack.file_digest is required (this registry stores packs by file digest)")
	}
	fileHex, err := registry.ParseDigest("pack.file_digest", req.Pack.FileDigest)
	if err != nil {
		return nil, err
	}
	in := &pushIn{
		Target: req.Target, FileHex: fileHex, Size: req.Pack.SizeBytes,
		PackDigest: req.Pack.Digest, ManifestDigest: req.Pack.ManifestDigest, Remote: req.Remote, Release: req.Release,
	}
	if err := r.check(in); err != nil {
		return nil, err
	}
	repo := r.c.repository(in.repo)
	if _, err := r.planPush(ctx, repo, in); err != nil {
		return nil, err
	}
	upload, byAdapter, err := r.uploadTarget(ctx, repo, in, req.Pack.Path)
	if err != nil {
		return nil, err
	}
	in.ByAdapter = byAdapter
	return &protocol.PushPrepareResponse{Upload: upload, FinalizeToken: encodePushToken(in)}, nil
}

const pushTokenPrefix = "oci1."

// encodePushToken is the finalize token of push in: the push itself, so
// finalize needs no state in the registry (decodePushToken reads it back).
func encodePushToken(in *pushIn) string {
	tok, _ := json.Marshal(in)
	return pushTokenPrefix + base64.RawURLEncoding.EncodeToString(tok)
}

func decodePushToken(s string) (*pushIn, error) {
	raw, ok := strings.CutPrefix(s, pushTokenPrefix)
	var in pushIn
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if !ok || err != nil || json.Unmarshal(b, &in) != nil {
		return nil, bad("finalize_token is missing or malformed; run push.prepare first")
	}
	return &in, nil
}

// PushFinalize answers push.finalize: the layer must be in the repository
// (the registry checked its digest when it was stored), then the release
// is published: a new manifest and its tags, or — when the stream has this
// pack — its release with the new labels and notes merged.
func (r *Registry) PushFinalize(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
	in, err := decodePushToken(req.FinalizeToken)
	if err != nil {
		return nil, err
	}
	if err := r.check(in); err != nil {
		return nil, err
	}
	if req.Target != in.Target {
		return nil, bad("target %+v differs from the target of push.prepare %+v", req.Target, in.Target)
	}
	if req.Pack.SizeBytes != 0 && req.Pack.SizeBytes != in.Size {
		return nil, bad("pack.size_bytes %d differs from push.prepare (%d)", req.Pack.SizeBytes, in.Size)
	}
	if req.Pack.Digest != "" && in.PackDigest != "" && req.Pack.Digest != in.PackDigest {
		return nil, bad("pack.digest differs from push.prepare")
	}
	repo := r.c.repository(in.repo)
	desc, err := repo.Blobs().Resolve(ctx, in.fileDigest())
	switch {
	case notFound(err):
		return nil, protocol.Errorf(protocol.CodeNotFound, "the pack upload did not arrive in %s; run the push again", r.ref(repo))
	case err != nil:
		return nil, r.c.fail(err, "checking the pack layer in %s", r.ref(repo))
	case desc.Size != in.Size:
		return nil, protocol.Errorf(protocol.CodeInvalidRequest, "the stored pack layer has %d bytes, expected %d; nothing was published", desc.Size, in.Size)
	}
	rel, existing, err := r.publish(ctx, repo, in)
	if err != nil {
		return nil, err
	}
	packDigest := rel.PackDigest
	if packDigest == "" {
		packDigest = rel.FileDigest
	}
	ext := map[string]any{
		"file_digest": rel.FileDigest,
		"stream":      rel.Stream,
		"labels":      rel.Labels,
		"existing":    existing,
		"repository":  r.cfg.Registry + "/" + in.repo,
	}
	if in.ByAdapter {
		ext["uploaded_by_adapter"] = true
	}
	// The release exists now, whatever happens to the copies of its
	// signatures: a failure is reported, never turned into a failed push.
	if n, err := r.attachReleaseSignatures(ctx, repo, in, req.Pack.Path, rel.ID); err != nil {
		ext["signature_referrers_error"] = err.Error()
	} else if n > 0 {
		ext["signature_referrers"] = n
	}
	return &protocol.PushFinalizeResponse{
		Release: protocol.ReleaseResult{
			ReleaseID:    rel.ID,
			PackDigest:   packDigest,
			CreatedAt:    rel.Created,
			CanonicalRef: r.canonicalRef(in.repo, rel.ID),
		},
		Extensions: ext,
	}, nil
}

// publish creates the release of in, or merges into the stream's release
// of the pack. A new release first tags its manifest as a candidate
// (pack-sha256-<hex>.<release id>); of the candidates of one pack the
// published one, else the oldest, becomes the release, and a push that
// finds another merges into it — so concurrent pushes of one pack settle on
// one release unless one lists the candidates before the other has written
// its own. Versions are claimed next (claimVersion: a version another pack
// got meanwhile refuses the push, its candidates are withdrawn and the new
// manifest deleted), then the pack tag (read back), the release tag and
// latest.
func (r *Registry) publish(ctx context.Context, repo *remote.Repository, in *pushIn) (*release, bool, error) {
	p, err := r.planPush(ctx, repo, in)
	if err != nil {
		return nil, false, err
	}
	if p.existing != nil {
		rel, err := r.merge(ctx, repo, p.existing, in, p.versions)
		return rel, true, err
	}
	if err := r.ensureEmptyConfig(ctx, repo); err != nil {
		return nil, false, err
	}
	now := r.opt.Now().UTC()
	rel := &release{
		ID:             registry.NewReleaseID(now),
		Workspace:      in.Target.Workspace,
		Environment:    in.Target.Environment,
		Stream:         in.Target.Stream,
		FileDigest:     in.fileDigest(),
		Size:           in.Size,
		PackDigest:     in.PackDigest,
		ManifestDigest: manifestDigestForm(in.ManifestDigest),
		Labels:         mergeLabels(nil, in.Release.Labels),
		Notes:          in.Release.Notes,
		BuildContext:   in.Release.BuildContext,
		Signers:        slices.Clone(in.Release.Signers),
		Created:        now,
		Title:          titleFor(in.Target.Stream),
	}
	raw, desc, err := rel.manifest()
	if err != nil {
		return nil, false, err
	}
	if err := r.pushManifest(ctx, repo, desc, raw, candidateTag(in.FileHex, rel.ID)); err != nil {
		return nil, false, err
	}
	adopt := func(winner *found) (*release, bool, error) {
		merged, err := r.merge(ctx, repo, winner, in, p.versions, string(desc.Digest))
		if err != nil {
			return nil, true, err
		}
		// Give way for good: this push's candidate and release tags name
		// the winner's manifest from now on, then its own manifest goes.
		mraw, mdesc, err := merged.manifest()
		if err != nil {
			return nil, true, err
		}
		for _, tag := range []string{candidateTag(in.FileHex, rel.ID), rel.ID} {
			if got, err := r.resolveTag(ctx, repo, tag); err != nil {
				return nil, true, err
			} else if got == string(desc.Digest) {
				if err := r.pushManifest(ctx, repo, mdesc, mraw, tag); err != nil {
					return nil, true, err
				}
			}
		}
		r.discard(ctx, repo, desc)
		return merged, true, nil
	}
	// Look twice: the second look sees the candidates of pushes whose
	// writes were on their way during the first.
	for look := 0; look < 2; look++ {
		if winner, err := r.firstCandidate(ctx, repo, in); err != nil {
			return nil, false, err
		} else if winner != nil && winner.rel.ID != rel.ID {
			return adopt(winner)
		}
	}
	for _, vt := range p.versions {
		if err := r.claimVersion(ctx, repo, in, vt, desc, raw); err != nil {
			r.withdraw(ctx, repo, rel, candidateTag(in.FileHex, rel.ID))
			r.discard(ctx, repo, desc)
			return nil, false, err
		}
	}
	pt := packTag(in.FileHex)
	if err := r.pushManifest(ctx, repo, desc, raw, pt); err != nil {
		return nil, false, err
	}
	got, err := r.resolveTag(ctx, repo, pt)
	if err != nil {
		return nil, false, err
	}
	if got != string(desc.Digest) {
		// A concurrent push of this pack tagged its release last: that one
		// is the stream's release of the pack.
		winner, err := r.lookup(ctx, repo, pt)
		if err != nil {
			return nil, false, err
		}
		if winner != nil && !winner.rel.foreign && winner.rel.FileDigest == rel.FileDigest && inScope(winner.rel, in.Target, true) {
			return adopt(winner)
		}
		return nil, false, protocol.Errorf(protocol.CodeConflict, "tag %s of %s changed while this push wrote it; run the push again", pt, r.ref(repo))
	}
	if err := r.pushManifest(ctx, repo, desc, raw, rel.ID); err != nil {
		return nil, false, err
	}
	if err := r.moveLatest(ctx, repo, rel.ID, []string{string(desc.Digest)}, desc, raw); err != nil {
		return nil, false, err
	}
	return rel, false, nil
}

// candidateTag marks a release manifest as a candidate to be the release of
// its pack in the stream.
func candidateTag(fileHex, id string) string { return packTag(fileHex) + "." + id }

// firstCandidate returns the release a new release of in must give way
// to: the published release of the pack (its pack tag), else its oldest
// candidate; nil when there is none (the candidate of this push included).
func (r *Registry) firstCandidate(ctx context.Context, repo *remote.Repository, in *pushIn) (*found, error) {
	if f, err := r.lookup(ctx, repo, packTag(in.FileHex)); err != nil {
		return nil, err
	} else if f != nil && !f.rel.foreign && f.rel.FileDigest == in.fileDigest() && inScope(f.rel, in.Target, true) {
		return f, nil
	}
	return r.oldestCandidate(ctx, repo, in)
}

// oldestCandidate returns the oldest candidate release of in's pack that
// has not given way to another (its candidate tag names its own manifest).
func (r *Registry) oldestCandidate(ctx context.Context, repo *remote.Repository, in *pushIn) (*found, error) {
	ids, err := r.idsWithPrefix(ctx, repo, packTag(in.FileHex)+".")
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		f, err := r.lookup(ctx, repo, candidateTag(in.FileHex, id))
		if err != nil {
			return nil, err
		}
		if f != nil && f.rel.ID == id && !f.rel.Withdrawn && f.rel.FileDigest == in.fileDigest() && inScope(f.rel, in.Target, true) {
			return f, nil
		}
	}
	return nil, nil
}

// claimVersion gives the manifest desc (raw) a version. The version must
// be free (versionFree: a published version tag wins); then the push tags
// its manifest as a candidate for the version (vc-<sha256(tag)[:24]>-<ULID>)
// and looks, twice, for the oldest candidate that has not given way: when
// that is another pack's, this push gives way (its candidate tag names a
// withdrawn copy of its manifest from then on) and is refused. Otherwise it
// writes the version tag and reads it back.
func (r *Registry) claimVersion(ctx context.Context, repo *remote.Repository, in *pushIn, vt versionTag, desc ocispec.Descriptor, raw []byte) error {
	if err := r.versionFree(ctx, repo, in, vt.version, vt.tag); err != nil {
		return err
	}
	// The candidate is named by a fresh ULID, made just before it is
	// written, so candidates sort as they were written, give or take one
	// request.
	cand := versionCandidateTag(vt.tag, registry.NewReleaseID(r.opt.Now()))
	if err := r.pushManifest(ctx, repo, desc, raw, cand); err != nil {
		return err
	}
	for look := 0; look < 2; look++ {
		w, err := r.oldestVersionCandidate(ctx, repo, vt.tag)
		if err != nil {
			return err
		}
		if w != nil && w.rel.FileDigest != in.fileDigest() {
			if rel, err := parseRelease(raw); err == nil {
				r.withdraw(ctx, repo, rel, cand)
			}
			return r.versionTaken(repo, in, vt.version, w)
		}
	}
	if err := r.pushManifest(ctx, repo, desc, raw, vt.tag); err != nil {
		return err
	}
	got, err := r.resolveTag(ctx, repo, vt.tag)
	if err != nil || got == string(desc.Digest) {
		return err
	}
	return r.versionFree(ctx, repo, in, vt.version, vt.tag)
}

// versionCandidateTag marks a release manifest as a candidate for the
// version written as tag; id (a ULID) orders the candidates.
func versionCandidateTag(tag, id string) string {
	return versionCandidatePrefix(tag) + id
}

func versionCandidatePrefix(tag string) string {
	h := sha256.Sum256([]byte(tag))
	return "vc-" + hex.EncodeToString(h[:12]) + "-"
}

// oldestVersionCandidate returns the oldest candidate for the version tag
// that has not given way (withdrawn).
func (r *Registry) oldestVersionCandidate(ctx context.Context, repo *remote.Repository, tag string) (*found, error) {
	prefix := versionCandidatePrefix(tag)
	ids, err := r.idsWithPrefix(ctx, repo, prefix)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		f, err := r.lookup(ctx, repo, prefix+id)
		if err != nil {
			return nil, err
		}
		if f != nil && !f.rel.foreign && !f.rel.Withdrawn {
			return f, nil
		}
	}
	return nil, nil
}

// merge adds in's labels and notes to the release ex. When that changes it, the release gets a new manifest (same
// release id, created time and layer; updated time set) and its run
// results move to it. Every tag of the release — release, pack, versions,
// latest — that is missing or names its old manifest, or one of stale
// (manifests of a push that gave way to ex), then names the release's
// manifest.
func (r *Registry) merge(ctx context.Context, repo *remote.Repository, ex *found, in *pushIn, add []versionTag, stale ...string) (*release, error) {
	if err := notesConflict(ex.rel, in.Release.Notes); err != nil {
		return nil, err
	}
	cur := ex.rel.clone()
	cur.Labels = mergeLabels(cur.Labels, in.Release.Labels)
	changed := len(cur.Labels) != len(ex.rel.Labels)
	if cur.Notes == "" && in.Release.Notes != "" {
		cur.Notes, changed = in.Release.Notes, true
	}
	// Signers stay as the push that created the release told them, as in
	// package registry: a re-push's are neither merged nor a replacement.
	raw, desc := ex.raw, ex.desc
	if changed {
		cur.Updated = r.opt.Now().UTC()
		var err error
		if raw, desc, err = cur.manifest(); err != nil {
			return nil, err
		}
		for _, vt := range add {
			if err := r.claimVersion(ctx, repo, in, vt, desc, raw); err != nil {
				return nil, err
			}
		}
	}
	replaceable := append([]string{string(ex.desc.Digest)}, stale...)
	moves := []string{cur.ID, packTag(strings.TrimPrefix(cur.FileDigest, "sha256:"))}
	for _, v := range versionsOf(cur.Labels) {
		if t, err := VersionTag(v); err == nil {
			moves = append(moves, t)
		}
	}
	for _, tag := range moves {
		got, err := r.resolveTag(ctx, repo, tag)
		if err != nil {
			return nil, err
		}
		if got != string(desc.Digest) && (got == "" || slices.Contains(replaceable, got)) {
			if err := r.pushManifest(ctx, repo, desc, raw, tag); err != nil {
				return nil, err
			}
		}
	}
	if changed {
		for _, k := range []referrerKind{runKind, signatureKind} {
			if err := r.indexReferrers(ctx, repo, k, strings.TrimPrefix(cur.FileDigest, "sha256:"), desc); err != nil {
				return nil, err
			}
		}
	}
	if err := r.moveLatest(ctx, repo, cur.ID, replaceable, desc, raw); err != nil {
		return nil, err
	}
	return cur, nil
}

// moveLatest points latest at the manifest desc of release id when latest
// names an older release, another tool's manifest, nothing, or one of
// replacing (earlier manifests of the same release, or of a push that gave
// way to it).
func (r *Registry) moveLatest(ctx context.Context, repo *remote.Repository, id string, replacing []string, desc ocispec.Descriptor, raw []byte) error {
	cur, err := r.lookup(ctx, repo, tagLatest)
	if err != nil {
		return err
	}
	if cur != nil && cur.desc.Digest == desc.Digest {
		return nil
	}
	if cur != nil && !cur.rel.foreign && cur.rel.ID > id && !slices.Contains(replacing, string(cur.desc.Digest)) {
		return nil
	}
	return r.pushManifest(ctx, repo, desc, raw, tagLatest)
}

// withdraw points tags (candidate tags of a refused push) at a withdrawn
// copy of rel's manifest, so no later push takes them for a candidate even
// where the registry does not let discard delete the manifest (best effort).
func (r *Registry) withdraw(ctx context.Context, repo *remote.Repository, rel *release, tags ...string) {
	w := rel.clone()
	w.Withdrawn = true
	raw, desc, err := w.manifest()
	if err != nil {
		return
	}
	for _, t := range tags {
		_ = r.pushManifest(ctx, repo, desc, raw, t)
	}
}

// discard deletes a manifest this push wrote and gave up (best effort:
// with it go the tags the push set on it).
func (r *Registry) discard(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) {
	_ = repo.Manifests().Delete(ctx, desc)
}

// manifestDigestForm writes the manifest digest with its sha256: prefix
// (the host sends the 64 hex without it).
func manifestDigestForm(s string) string {
	if s == "" || strings.HasPrefix(s, "sha256:") {
		return s
	}
	return "sha256:" + s
}
