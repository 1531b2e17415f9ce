package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Bounds on release metadata.
const (
	maxLabels       = 100
	maxNotesBytes   = 64 << 10
	maxBuildContext = 256
)

// stagingRecord is what push.prepare remembers for push.finalize, keyed by
// the random finalize token: the token binds the staging location to the
// target, digest, size and release metadata of the prepare request.
type stagingRecord struct {
	Token          string                `json:"token"`
	CreatedAt      time.Time             `json:"created_at"`
	ExpiresAt      time.Time             `json:"expires_at"`
	Remote         string                `json:"remote,omitempty"`
	Target         protocol.TargetConfig `json:"target"`
	FileHex        string                `json:"file_hex"`
	PackDigest     string                `json:"pack_digest,omitempty"`
	ManifestDigest string                `json:"manifest_digest,omitempty"`
	SizeBytes      int64                 `json:"size_bytes"`
	Checksum       string                `json:"checksum,omitempty"`
	Skip           bool                  `json:"skip"`
	UploadKey      string                `json:"upload_key,omitempty"` // where the upload lands (staging or blob key)
	Release        protocol.ReleaseInfo  `json:"release"`
	Multipart      *stagingMultipart     `json:"multipart,omitempty"` // multipart.go
	// Done is the answer of the push.finalize that published the push: a
	// retried finalize gets it again, nothing is appended twice.
	Done *protocol.PushFinalizeResponse `json:"done,omitempty"`
}

func (s *stagingRecord) blob() Blob {
	return Blob{Size: s.SizeBytes, SHA256Hex: s.FileHex, MD5Base64: s.Checksum}
}

func checkRelease(ri protocol.ReleaseInfo) error {
	if len(ri.Labels) > maxLabels {
		return invalid("too many release labels (%d, limit %d)", len(ri.Labels), maxLabels)
	}
	for _, l := range ri.Labels {
		if err := CheckName("label", l); err != nil {
			return err
		}
	}
	if len(ri.Notes) > maxNotesBytes {
		return invalid("release notes too long (%d bytes, limit %d)", len(ri.Notes), maxNotesBytes)
	}
	if len(ri.BuildContext) > maxBuildContext {
		return invalid("too many build_context entries (%d, limit %d)", len(ri.BuildContext), maxBuildContext)
	}
	for k, v := range ri.BuildContext {
		if len(k) > 256 || len(v) > 4096 {
			return invalid("build_context entry %q is too long", truncate(k))
		}
	}
	if err := protocol.CheckSigners(ri.Signers); err != nil {
		return invalid("release.%v", err)
	}
	return nil
}

// checkShort refuses a free-form identifier that is too long or has control characters.
func checkShort(field, s string, max int) error {
	if len(s) > max {
		return invalid("%s is too long (%d bytes, limit %d)", field, len(s), max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s contains a control character", field)
		}
	}
	return nil
}

// PushPrepare answers push.prepare: "skip" when the blob is already stored
// (same size and digest), otherwise an upload target for a fresh staging
// object, plus a finalize token that binds it.
func (r *Registry) PushPrepare(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
	sc, err := newScope(req.Target, true)
	if err != nil {
		return nil, err
	}
	if req.Pack.FileDigest == "" {
		return nil, invalid("pack.file_digest is required (this registry stores packs by file digest)")
	}
	fileHex, err := ParseDigest("pack.file_digest", req.Pack.FileDigest)
	if err != nil {
		return nil, err
	}
	if req.Pack.SizeBytes <= 0 {
		return nil, invalid("pack.size_bytes must be positive, got %d", req.Pack.SizeBytes)
	}
	if r.opt.MaxPackBytes > 0 && req.Pack.SizeBytes > r.opt.MaxPackBytes {
		return nil, invalid("pack is %d bytes; this registry accepts at most %d", req.Pack.SizeBytes, r.opt.MaxPackBytes)
	}
	if req.Pack.Checksum != "" {
		if b, err := base64.StdEncoding.DecodeString(req.Pack.Checksum); err != nil || len(b) != 16 {
			return nil, invalid("pack.checksum %q is not a base64 MD5", truncate(req.Pack.Checksum))
		}
	}
	if err := checkRelease(req.Release); err != nil {
		return nil, err
	}
	if err := r.checkRetain(req.Release.Retain); err != nil {
		return nil, err
	}
	if p, ok := r.store.(Preflighter); ok {
		if err := p.Preflight(ctx); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"pack.digest", req.Pack.Digest}, {"pack.manifest_digest", req.Pack.ManifestDigest}, {"remote", req.Remote},
	} {
		if err := checkShort(f.name, f.v, 255); err != nil {
			return nil, err
		}
	}
	// Refuse before any upload what finalize would refuse: a version that
	// names another pack, notes that differ from the release's.
	if _, err := r.planPublish(ctx, sc, fileHex, req.Release, req.Remote); err != nil {
		return nil, err
	}
	now := r.opt.Now().UTC()
	rec := &stagingRecord{
		Token:          newToken(),
		CreatedAt:      now,
		ExpiresAt:      now.Add(r.opt.PresignExpiry),
		Remote:         req.Remote,
		Target:         req.Target,
		FileHex:        fileHex,
		PackDigest:     req.Pack.Digest,
		ManifestDigest: req.Pack.ManifestDigest,
		SizeBytes:      req.Pack.SizeBytes,
		Checksum:       req.Pack.Checksum,
		Release:        req.Release,
	}
	r.sweepStaging(ctx, now)

	have, err := r.store.BlobMatches(ctx, blobKey(fileHex), rec.blob())
	if err != nil {
		return nil, storeErr(err, "checking for an existing pack blob")
	}
	rec.Skip = have
	resp := &protocol.PushPrepareResponse{FinalizeToken: rec.Token}
	if !have {
		if resp.Multipart, err = r.prepareMultipart(ctx, req, rec); err != nil {
			return nil, err
		}
	}
	switch {
	case have:
		resp.Upload = protocol.TransferTarget{Method: protocol.MethodSkip}
	case resp.Multipart != nil:
		resp.Upload = protocol.TransferTarget{Method: protocol.MethodMultipart}
	default:
		resp.Upload, rec.UploadKey, err = r.store.UploadTarget(ctx, stagingBlobKey(rec.Token), blobKey(fileHex), rec.blob(), r.opt.PresignExpiry)
		if err != nil {
			return nil, storeErr(err, "preparing the upload target")
		}
	}
	// ErrExists can only be our own write retried by the store client (the
	// token is 128 random bits).
	if err := r.store.CreateIfAbsent(ctx, stagingRecordKey(rec.Token), mustJSON(rec)); err != nil && !errors.Is(err, ErrExists) {
		return nil, storeErr(err, "recording the push")
	}
	return resp, nil
}

// PushFinalize answers push.finalize: it checks what arrived (size and
// digest), promotes it to the content-addressed blob, then publishes the
// release: one release per (stream, file digest), created with a
// conditional create; pushing the same pack again returns that release with
// the new labels merged in. Indexes are moved by compare-and-swap.
func (r *Registry) PushFinalize(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
	if !validToken(req.FinalizeToken) {
		return nil, invalid("finalize_token is missing or malformed; run push.prepare first")
	}
	sc, err := newScope(req.Target, true)
	if err != nil {
		return nil, err
	}
	var rec stagingRecord
	if _, err := r.getJSON(ctx, stagingRecordKey(req.FinalizeToken), &rec); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, invalid("unknown or expired finalize_token; run the push again")
		}
		return nil, storeErr(err, "reading the push record")
	}
	if rec.Target != req.Target {
		return nil, invalid("target %+v differs from the target of push.prepare %+v", req.Target, rec.Target)
	}
	if rec.Done != nil {
		return rec.Done, nil
	}
	if req.Pack.SizeBytes != 0 && req.Pack.SizeBytes != rec.SizeBytes {
		return nil, invalid("pack.size_bytes %d differs from push.prepare (%d)", req.Pack.SizeBytes, rec.SizeBytes)
	}
	if req.Pack.Digest != "" && rec.PackDigest != "" && req.Pack.Digest != rec.PackDigest {
		return nil, invalid("pack.digest differs from push.prepare")
	}
	blob := rec.blob()
	bk := blobKey(rec.FileHex)

	if !rec.Skip && rec.Multipart != nil {
		if err := r.finishMultipart(ctx, &rec, bk); err != nil {
			return nil, err
		}
	} else if !rec.Skip {
		uploaded := rec.UploadKey
		if uploaded != bk {
			uploaded = stagingBlobKey(rec.Token) // never a key read from the record
		}
		err := r.store.Promote(ctx, uploaded, bk, blob)
		switch {
		case errors.Is(err, ErrNotFound):
			// A retried finalize finds the staging object already promoted.
			ok, herr := r.store.BlobMatches(ctx, bk, blob)
			if herr != nil {
				return nil, storeErr(herr, "checking the pack blob")
			}
			if !ok {
				msg := "the pack upload did not arrive"
				if r.opt.Now().After(rec.ExpiresAt) {
					msg += " and the upload URL expired at " + fmtTime(rec.ExpiresAt)
				}
				return nil, protocol.Errorf(protocol.CodeNotFound, "%s; run the push again", msg)
			}
		case errors.Is(err, ErrMismatch):
			return nil, protocol.Wrapf(protocol.CodeInvalidRequest, err, "uploaded bytes refused, nothing was published")
		case err != nil:
			return nil, storeErr(err, "storing the uploaded pack")
		}
	} else {
		ok, err := r.store.BlobMatches(ctx, bk, blob)
		if err != nil {
			return nil, storeErr(err, "checking the pack blob")
		}
		if !ok {
			return nil, protocol.Errorf(protocol.CodeConflict, "the stored pack blob disappeared since push.prepare; run the push again")
		}
	}

	now := r.opt.Now().UTC()
	rel := Release{
		ReleaseID:      NewReleaseID(now),
		Workspace:      sc.ws,
		Environment:    sc.env,
		Stream:         sc.stream,
		FileDigest:     "sha256:" + rec.FileHex,
		PackDigest:     rec.PackDigest,
		ManifestDigest: rec.ManifestDigest,
		SizeBytes:      rec.SizeBytes,
		Labels:         dedupe(rec.Release.Labels),
		Notes:          rec.Release.Notes,
		BuildContext:   rec.Release.BuildContext,
		Remote:         rec.Remote,
		CreatedAt:      now,
		Signers:        slices.Clone(rec.Release.Signers),
	}
	until := r.retainUntil(rec.Release.Retain)
	existing, pos, err := r.publish(ctx, sc, &rel, rec.Release, until)
	if err != nil {
		return nil, err
	}
	// A gc that listed the blob's references before this release existed
	// may have removed the blob meanwhile (gc.go): say so, never a release
	// without its pack. Pushing again uploads it.
	if info, err := r.store.Head(ctx, bk); errors.Is(err, ErrNotFound) || err == nil && info.Size != blob.Size {
		return nil, protocol.Errorf(protocol.CodeConflict, "the pack blob was removed while this push ran (registry gc?); release %s is recorded: run the push again to store the pack", rel.ReleaseID)
	}
	if err := r.sealRelease(ctx, sc, &rel, until); err != nil {
		return nil, err
	}
	packDigest := rel.PackDigest
	if packDigest == "" {
		packDigest = rel.FileDigest
	}
	resp := &protocol.PushFinalizeResponse{
		Release: protocol.ReleaseResult{
			ReleaseID:    rel.ReleaseID,
			PackDigest:   packDigest,
			CreatedAt:    rel.CreatedAt,
			CanonicalRef: sc.canonicalRef(rel.ReleaseID),
			Log:          &pos,
			Retention:    r.retention(ctx, sc, &rel),
		},
		Extensions: map[string]any{
			"file_digest": rel.FileDigest,
			"stream":      rel.Stream,
			"labels":      rel.Labels,
			"existing":    existing,
		},
	}
	// The push is done: its staging record says so (best effort), so a
	// retried finalize answers the same; gc removes it in time.
	rec.Done = resp
	_ = r.store.Put(ctx, stagingRecordKey(req.FinalizeToken), bytes.NewReader(mustJSON(&rec)), -1)
	return resp, nil
}

// publish creates rel, or finds the release of the same pack in the same
// stream and merges labels and notes into it (rel is updated in place), then
// updates every index. It reports whether the release already existed and
// where its new record sits in the stream's release log. until is the
// retention the push asks for (zero: none): the record keeps the later of
// it and what the release was retained until before.
//
// Nothing is written before the rules are checked (planPublish): a version
// that names another pack of the stream, or notes that differ from the
// release's, refuse the push with the registry unchanged. The versions the
// push adds are then claimed (claimVersions), so of two pushes giving one
// version to different packs only one wins. The digest marker (conditional
// create) decides which push creates the release; every push then appends
// one record to the log (chain.go): the release's first, or an update
// with the labels and notes merged — records are never edited.
func (r *Registry) publish(ctx context.Context, sc scope, rel *Release, ri protocol.ReleaseInfo, until time.Time) (bool, protocol.LogPosition, error) {
	fileHex := strings.TrimPrefix(rel.FileDigest, "sha256:")
	plan, err := r.planPublish(ctx, sc, fileHex, ri, rel.Remote)
	if err != nil {
		return false, protocol.LogPosition{}, err
	}
	if err := r.claimVersions(ctx, sc, plan.versions, rel.FileDigest, rel.Remote); err != nil {
		return false, protocol.LogPosition{}, err
	}
	marker := path.Join(sc.streamDir(), "digests", fileHex+".json")
	existing := false
	draft := *rel
	err = r.store.CreateIfAbsent(ctx, marker, mustJSON(rel))
	switch {
	case err == nil:
	case errors.Is(err, ErrExists):
		existing = true
		draft = Release{}
		if _, err := r.getJSON(ctx, marker, &draft); err != nil {
			return false, protocol.LogPosition{}, storeErr(err, "reading the existing release of this pack")
		}
		if !ValidReleaseID(draft.ReleaseID) || draft.Stream != sc.stream {
			return false, protocol.LogPosition{}, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", marker)
		}
	default:
		return false, protocol.LogPosition{}, storeErr(err, "creating the release")
	}
	pushRemote := rel.Remote
	rec, pos, err := r.appendRecord(ctx, sc, until, func(head *Release) (*Release, error) {
		cur, err := r.stateRecord(ctx, sc, draft.ReleaseID, head)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			// The release's first record: this push won the marker, or
			// the push that did died before it got here.
			next := draft
			next.Kind = RecordRelease
			next.Labels = mergeLabels(draft.Labels, ri.Labels)
			if next.Notes == "" {
				next.Notes = ri.Notes
			}
			next.RetainUntil = later(next.RetainUntil, until)
			return &next, nil
		}
		if err := notesConflict(cur, ri.Notes); err != nil {
			return nil, err
		}
		next := *cur
		next.Kind, next.UpdatedAt, next.Remote = RecordUpdate, time.Time{}, pushRemote
		next.Labels = mergeLabels(cur.Labels, ri.Labels)
		if next.Notes == "" {
			next.Notes = ri.Notes
		}
		next.RetainUntil = later(next.RetainUntil, until)
		return &next, nil
	})
	if err != nil {
		return false, pos, err
	}
	*rel = *rec
	if err := r.updateIndexes(ctx, sc, rel, existing); err != nil {
		return existing, pos, err
	}
	return existing, pos, nil
}

// pointer names a release (latest.json, versions/*.json, @all/*).
type pointer struct {
	ReleaseID  string    `json:"release_id"`
	Stream     string    `json:"stream"`
	FileDigest string    `json:"file_digest"`
	CreatedAt  time.Time `json:"created_at"`
}

// updateIndexes makes rel findable: the listing index (indexListing; with
// repair when the release existed, so nothing it has is rewritten), the
// latest and version pointers (moved forward by compare-and-swap) and the
// environment-wide lookups, all at once (each is its own object, and each
// write waits for its own fsyncs: together they cost about one). The
// environment's first release then marks its listing index complete.
func (r *Registry) updateIndexes(ctx context.Context, sc scope, rel *Release, repair bool) error {
	ptr := pointer{ReleaseID: rel.ReleaseID, Stream: rel.Stream, FileDigest: rel.FileDigest, CreatedAt: rel.CreatedAt}
	envLatest := path.Join(sc.allDir(), "latest.json")
	moves := []string{path.Join(sc.streamDir(), "latest.json"), envLatest}
	for _, v := range versionsOf(rel.Labels) {
		seg := EscapeName(v)
		moves = append(moves, path.Join(sc.streamDir(), "versions", seg+".json"), path.Join(sc.allDir(), "versions", seg+".json"))
	}
	creates := []string{
		path.Join(sc.allDir(), "releases", rel.ReleaseID+".json"),
		path.Join(sc.allDir(), "digests", strings.TrimPrefix(rel.FileDigest, "sha256:")+".json"),
	}
	firstInEnv := false // written by envLatest's move alone, read after all are done
	move := func(ctx context.Context, key string) error {
		err := update(ctx, r, key, func(cur *pointer, exists bool) (bool, error) {
			if key == envLatest {
				firstInEnv = !exists // the last attempt decides
			}
			if exists && cur.ReleaseID >= ptr.ReleaseID {
				return false, nil // only ever move forward in time
			}
			*cur = ptr
			return true, nil
		})
		if err != nil {
			return storeErr(err, "updating %s", key)
		}
		return nil
	}
	create := func(ctx context.Context, key string) error {
		if err := r.store.CreateIfAbsent(ctx, key, mustJSON(&ptr)); err != nil && !errors.Is(err, ErrExists) {
			return storeErr(err, "updating %s", key)
		}
		return nil
	}
	err := each(ctx, 1+len(moves)+len(creates), func(ctx context.Context, i int) error {
		switch {
		case i == 0:
			return r.indexListing(ctx, sc, rel, repair)
		case i <= len(moves):
			return move(ctx, moves[i-1])
		default:
			return create(ctx, creates[i-1-len(moves)])
		}
	})
	if err != nil {
		return err
	}
	if firstInEnv {
		// Nothing was recorded in this environment before this release, so
		// every release it will hold is indexed as it is pushed.
		if err := r.store.CreateIfAbsent(ctx, sc.listingMarkerKey(), mustJSON(listingMarker{Version: 1})); err != nil && !errors.Is(err, ErrExists) {
			return storeErr(err, "writing %s", sc.listingMarkerKey())
		}
	}
	return nil
}

// versionsOf returns the versions a release's labels declare: a label that
// starts with 'v' followed by a digit ("v1", "v1.2.3") is a version as is;
// "version:X" and "version=X" declare version X.
func versionsOf(labels []string) []string {
	var out []string
	for _, l := range labels {
		v := ""
		switch {
		case len(l) >= 2 && l[0] == 'v' && l[1] >= '0' && l[1] <= '9':
			v = l
		case strings.HasPrefix(l, "version:"):
			v = l[len("version:"):]
		case strings.HasPrefix(l, "version="):
			v = l[len("version="):]
		}
		if v != "" && CheckName(KindVersion, v) == nil && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func dedupe(in []string) []string { return mergeLabels(nil, in) }

// mergeLabels returns have followed by the labels of add it lacks, in order.
func mergeLabels(have, add []string) []string {
	out := slices.Clone(have)
	for _, l := range add {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// sweepStaging removes abandoned staging objects (best effort, bounded).
func (r *Registry) sweepStaging(ctx context.Context, now time.Time) {
	if rand.IntN(8) != 0 {
		return // amortised: one prepare in eight looks
	}
	entries, err := r.store.List(ctx, "staging/", 500)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.ModTime.IsZero() && now.Sub(e.ModTime) > stagingMaxAge {
			_ = r.store.Delete(ctx, e.Key)
		}
	}
}
