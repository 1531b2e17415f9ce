package ocistore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Run results are referrers of the release manifest (OCI 1.1 subject; on a
// registry without the referrers API, such as distribution 2.8, oras-go
// keeps the sha256-<hex> tag schema index): one artifact per run, its one
// layer the result.json.
const (
	// RunArtifactType is a run result's manifest artifactType.
	RunArtifactType = "application/vnd.evidencepack.run.v1"
	// RunLayerMediaType is the media type of its layer, the result JSON.
	RunLayerMediaType = "application/vnd.evidencepack.run.v1+json"
	// AnnotationRunID names the run.
	AnnotationRunID = "org.evidencepack.run.id"
)

// MaxRunsPerSync is advertised and enforced in runs.sync.
const MaxRunsPerSync = 1000

// RunsSync answers runs.sync: each result becomes a referrer of the
// release of the pack in the target's stream, tagged
// run-<pack hex[:24]>-<sha256(run id)[:32]> so the run's id finds it in one
// read and concurrent writers never share a tag. A run is accepted (stored
// now), duplicate (the same id with the same result is there) or rejected
// with a reason: bad run id or digest, a result_path outside the pack's
// sidecar folder or through a symlink, over 1 MiB or not JSON, a digest
// that does not match the bytes, or another result under that id (the
// rules of package registry).
func (r *Registry) RunsSync(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
	fileHex, err := registry.ParseDigest("file_digest", req.FileDigest)
	if err != nil {
		return nil, err
	}
	if len(req.Runs) > MaxRunsPerSync {
		return nil, bad("%d runs in one request; the limit is %d", len(req.Runs), MaxRunsPerSync)
	}
	if req.Target.Stream == "" {
		return nil, bad("target.stream is required: run results are stored with the pack's release in its stream")
	}
	sidecar := ""
	if req.PackPath != "" {
		if !filepath.IsAbs(req.PackPath) || filepath.Clean(req.PackPath) != req.PackPath {
			return nil, bad("pack_path %q must be an absolute clean path", truncate(req.PackPath))
		}
		sidecar = strings.TrimSuffix(req.PackPath, ".epack") + ".runs"
	}
	path, err := r.cfg.Repository(req.Target)
	if err != nil {
		return nil, err
	}
	repo := r.c.repository(path)
	rel, err := r.lookup(ctx, repo, packTag(fileHex))
	if err != nil {
		return nil, err
	}
	if rel == nil || rel.rel.foreign || !inScope(rel.rel, req.Target, true) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no release of pack %s in stream %q; push it before syncing its runs", req.FileDigest, req.Target.Stream)
	}
	resp := &protocol.RunsSyncResponse{Items: []protocol.RunStatus{}}
	seen := map[string]string{}
	for _, run := range req.Runs {
		status, reason, err := r.syncRun(ctx, repo, rel, fileHex, sidecar, run, seen)
		if err != nil {
			return nil, err
		}
		resp.Items = append(resp.Items, protocol.RunStatus{RunID: run.RunID, Status: status, Reason: reason})
		switch status {
		case protocol.RunAccepted:
			resp.Accepted++
		case protocol.RunRejected:
			resp.Rejected++
		}
	}
	if resp.Accepted > 0 {
		if err := r.indexRuns(ctx, repo, fileHex, rel.desc); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// runTagPrefix starts the tags of the runs of one pack.
func runTagPrefix(fileHex string) string { return "run-" + fileHex[:24] + "-" }

func runTag(fileHex, runID string) string {
	h := sha256.Sum256([]byte(runID))
	return runTagPrefix(fileHex) + hex.EncodeToString(h[:16])
}

// storedRun is a run result (or a signature) read back.
type storedRun struct {
	id    string
	layer digest.Digest
	m     *ocispec.Manifest
	desc  ocispec.Descriptor
}

// referrerKind is one kind of artifact kept as a referrer of a release:
// run results and signatures.
type referrerKind struct {
	what         string // in messages
	artifactType string
	layerType    string
	tagPrefix    func(fileHex string) string
	// tagFor is the tag a stored item must sit under ("" when it is not
	// one of ours).
	tagFor func(fileHex string, it *storedRun) string
}

var runKind = referrerKind{what: "run", artifactType: RunArtifactType, layerType: RunLayerMediaType, tagPrefix: runTagPrefix,
	tagFor: func(fileHex string, it *storedRun) string {
		if it.id == "" {
			return ""
		}
		return runTag(fileHex, it.id)
	}}

// storedReferrers reads the referrers of kind k of a pack, by tag.
func (r *Registry) storedReferrers(ctx context.Context, repo *remote.Repository, k referrerKind, fileHex string) (map[string]*storedRun, error) {
	tags, err := r.tagsWithPrefix(ctx, repo, k.tagPrefix(fileHex))
	if err != nil {
		return nil, err
	}
	out := map[string]*storedRun{}
	for _, t := range tags {
		it, err := r.readReferrer(ctx, repo, k, t)
		if err != nil {
			return nil, err
		}
		if it != nil && k.tagFor(fileHex, it) == t {
			out[t] = it
		}
	}
	return out, nil
}

// readRun reads the run result under tag (nil when there is none).
func (r *Registry) readRun(ctx context.Context, repo *remote.Repository, tag string) (*storedRun, error) {
	return r.readReferrer(ctx, repo, runKind, tag)
}

// readReferrer reads the referrer of kind k under tag (nil when there is
// none); a tag of its prefix naming anything else is a conflict.
func (r *Registry) readReferrer(ctx context.Context, repo *remote.Repository, k referrerKind, tag string) (*storedRun, error) {
	desc, rc, err := repo.FetchReference(ctx, tag)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, r.c.fail(err, "reading %s %s of %s", k.what, tag, r.ref(repo))
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes))
	if err != nil {
		return nil, r.c.fail(err, "reading %s %s of %s", k.what, tag, r.ref(repo))
	}
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil || m.ArtifactType != k.artifactType || len(m.Layers) != 1 || m.Layers[0].MediaType != k.layerType {
		return nil, protocol.Errorf(protocol.CodeConflict, "tag %s of %s is not a %s", tag, r.ref(repo), k.what)
	}
	desc.ArtifactType, desc.Annotations = m.ArtifactType, m.Annotations
	return &storedRun{id: m.Annotations[AnnotationRunID], layer: m.Layers[0].Digest, m: &m, desc: desc}, nil
}

func (r *Registry) syncRun(ctx context.Context, repo *remote.Repository, rel *found, fileHex, sidecar string, run protocol.RunItem, seen map[string]string) (status, reason string, err error) {
	reject := func(format string, args ...any) (string, string, error) {
		return protocol.RunRejected, bad(format, args...).Message, nil
	}
	if err := registry.CheckName(registry.KindRunID, run.RunID); err != nil {
		return reject("%v", err)
	}
	wantHex, err := registry.ParseDigest("result_digest", run.ResultDigest)
	if err != nil {
		return reject("%v", err)
	}
	if prev, ok := seen[run.RunID]; ok {
		if prev == wantHex {
			return protocol.RunDuplicate, "", nil
		}
		return reject("run id %q appears twice with different digests", run.RunID)
	}
	seen[run.RunID] = wantHex
	p := run.ResultPath
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return reject("result_path %q must be an absolute clean path", truncate(p))
	}
	dir := sidecar
	if dir == "" {
		dir = nearestRunsDir(p)
		if dir == "" {
			return reject("result_path %q is not inside a <pack>.runs folder (and no pack_path was sent)", truncate(p))
		}
	}
	relPath, err := filepath.Rel(dir, p)
	if err != nil || relPath == "." || relPath == ".." || strings.HasPrefix(relPath, ".."+string(filepath.Separator)) || filepath.IsAbs(relPath) {
		return reject("result_path %q is outside the pack's sidecar folder %s", truncate(p), dir)
	}
	data, err := safefile.ReadFileNoFollow(dir, relPath, registry.MaxRunResultBytes)
	if err != nil {
		return reject("result_path %q: %v", truncate(p), err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != wantHex {
		return reject("result digest mismatch: the file has sha256:%x", sum)
	}
	if !json.Valid(data) {
		return reject("result file is not valid JSON")
	}
	tag := runTag(fileHex, run.RunID)
	have, err := r.readRun(ctx, repo, tag)
	if err != nil {
		return "", "", err
	}
	if have != nil && have.id == run.RunID {
		if string(have.layer) == "sha256:"+wantHex {
			return protocol.RunDuplicate, "", nil
		}
		return reject("run id %q is already stored with a different result (%s)", run.RunID, have.layer)
	}
	if err := r.pushRun(ctx, repo, rel.desc, run.RunID, tag, data); err != nil {
		return "", "", err
	}
	return protocol.RunAccepted, "", nil
}

// pushRun stores one run result as a referrer of subject, under tag.
func (r *Registry) pushRun(ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor, runID, tag string, data []byte) error {
	layer := ocispec.Descriptor{MediaType: RunLayerMediaType, Digest: digest.FromBytes(data), Size: int64(len(data)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "result.json"}}
	return r.pushKindArtifact(ctx, repo, runKind, subject, tag, layer, data, map[string]string{AnnotationRunID: runID}, "storing run "+runID)
}

// pushKindArtifact stores data as the one layer of an artifact of kind k
// that refers to subject, under tag; annotations go on its manifest
// besides its creation time.
func (r *Registry) pushKindArtifact(ctx context.Context, repo *remote.Repository, k referrerKind, subject ocispec.Descriptor, tag string, layer ocispec.Descriptor, data []byte, annotations map[string]string, what string) error {
	if err := r.pushBlob(ctx, repo, layer, data); err != nil {
		return err
	}
	if err := r.ensureEmptyConfig(ctx, repo); err != nil {
		return err
	}
	ann := map[string]string{ocispec.AnnotationCreated: r.opt.Now().UTC().Format(time.RFC3339Nano)}
	maps.Copy(ann, annotations)
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: k.artifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      subjectOf(subject),
		Annotations:  ann,
	}
	_, err := r.pushReferrer(ctx, repo, m, tag, what)
	return err
}

// subjectOf is the subject field naming manifest d.
func subjectOf(d ocispec.Descriptor) *ocispec.Descriptor {
	return &ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// pushReferrer pushes a manifest with a subject under tag (oras-go
// updates the tag schema index when the registry has no referrers API).
func (r *Registry) pushReferrer(ctx context.Context, repo *remote.Repository, m ocispec.Manifest, tag, what string) (ocispec.Descriptor, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: m.ArtifactType, Digest: digest.FromBytes(raw), Size: int64(len(raw)), Annotations: m.Annotations}
	for attempt := 0; ; attempt++ {
		err := repo.PushReference(ctx, desc, bytes.NewReader(raw), tag)
		if err == nil {
			return desc, nil
		}
		// Distribution can lose a repository's link to content that
		// concurrent writers store at once (here: a referrer an index
		// names); storing it again restores the link.
		if attempt >= 4 || !hasErrorCode(err, errcode.ErrorCodeManifestBlobUnknown) {
			return desc, r.c.fail(err, "%s in %s", what, r.ref(repo))
		}
		repo = r.c.repository(repo.Reference.Repository)
	}
}

func (r *Registry) pushBlob(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, data []byte) error {
	ok, err := repo.Blobs().Exists(ctx, d)
	if err != nil {
		return r.c.fail(err, "checking blob %s in %s", d.Digest, r.ref(repo))
	}
	if ok {
		return nil
	}
	if err := repo.Blobs().Push(ctx, d, bytes.NewReader(data)); err != nil {
		return r.c.fail(err, "storing blob %s in %s", d.Digest, r.ref(repo))
	}
	return nil
}

// runsOf reads the run results of a pack, by run id.
func (r *Registry) runsOf(ctx context.Context, repo *remote.Repository, fileHex string) (map[string]*storedRun, error) {
	byTag, err := r.storedReferrers(ctx, repo, runKind, fileHex)
	if err != nil {
		return nil, err
	}
	out := map[string]*storedRun{}
	for _, run := range byTag {
		out[run.id] = run
	}
	return out, nil
}

// indexRuns makes every run result of the pack a listed referrer of
// subject, the release's manifest (indexReferrers).
func (r *Registry) indexRuns(ctx context.Context, repo *remote.Repository, fileHex string, subject ocispec.Descriptor) error {
	return r.indexReferrers(ctx, repo, runKind, fileHex, subject)
}

// indexReferrers makes every referrer of kind k of the pack a listed
// referrer of subject, the release's manifest: one that refers to an older
// manifest of the release (labels were merged since) is pushed again with
// the new subject, and one the referrers index lacks is indexed again.
// Without a referrers API the index is one tag that concurrent writers
// replace, so each writer checks after it wrote, and the last one leaves
// it whole.
func (r *Registry) indexReferrers(ctx context.Context, repo *remote.Repository, k referrerKind, fileHex string, subject ocispec.Descriptor) error {
	for attempt := 0; attempt < 8; attempt++ {
		items, err := r.storedReferrers(ctx, repo, k, fileHex)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		listed := map[digest.Digest]bool{}
		// A fresh handle each round: oras-go remembers per handle what it indexed.
		fresh := r.c.repository(repo.Reference.Repository)
		err = fresh.Referrers(ctx, subject, k.artifactType, func(refs []ocispec.Descriptor) error {
			for _, d := range refs {
				listed[d.Digest] = true
			}
			return nil
		})
		if err != nil && !notFound(err) {
			return r.c.fail(err, "listing the %s referrers of %s@%s", k.what, r.ref(repo), subject.Digest)
		}
		done := true
		for _, tag := range slices.Sorted(maps.Keys(items)) {
			it := items[tag]
			if it.m.Subject != nil && it.m.Subject.Digest == subject.Digest && listed[it.desc.Digest] {
				continue
			}
			done = false
			m := *it.m
			m.Subject = subjectOf(subject)
			if _, err := r.pushReferrer(ctx, fresh, m, tag, "indexing "+k.what+" "+tag); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeConflict, "the %s referrers of %s@%s keep disappearing from its referrers index (concurrent writers); push or sync them again", k.what, r.ref(repo), subject.Digest)
}

// nearestRunsDir returns the closest ancestor of p whose name ends in ".runs".
func nearestRunsDir(p string) string {
	for d := filepath.Dir(p); d != filepath.Dir(d); d = filepath.Dir(d) {
		if b := filepath.Base(d); strings.HasSuffix(b, ".runs") && len(b) > len(".runs") {
			return d
		}
	}
	return ""
}
