package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// pullToken is what pull.prepare hands to pull.finalize (not a secret: it
// only lets the fetch record name the release).
type pullToken struct {
	ReleaseID string `json:"r"`
	Digest    string `json:"d"`
}

const pullTokenPrefix = "pt_"

// PullPrepare answers pull.prepare. The ref is resolved within the target's
// stream when the request names one, otherwise across the workspace and
// environment (the host sends no stream): latest = the newest release;
// release_id = that release; version = the newest release carrying that
// version label (see versionsOf; "1.2" also finds "v1.2"); digest = the
// first release of that pack file (file digest, "sha256:<hex>").
func (r *Registry) PullPrepare(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
	sc, err := newScope(req.Target, false)
	if err != nil {
		return nil, err
	}
	ref := req.Ref
	n := 0
	for _, set := range []bool{ref.Latest, ref.ReleaseID != "", ref.Version != "", ref.Digest != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, invalid("ref must set exactly one of latest, release_id, version, digest")
	}
	dir := sc.allDir()
	where := "this workspace/environment"
	if sc.streamSeg != "" {
		dir = sc.streamDir()
		where = fmt.Sprintf("stream %q", sc.stream)
	}
	var ptrKey, what string
	switch {
	case ref.ReleaseID != "":
		if !ValidReleaseID(ref.ReleaseID) {
			return nil, invalid("release_id %q is not a release id (rel_<26 characters>)", truncate(ref.ReleaseID))
		}
		ptrKey = path.Join(sc.allDir(), "releases", ref.ReleaseID+".json")
		what = "release " + ref.ReleaseID
	case ref.Version != "":
		if err := CheckName(KindVersion, ref.Version); err != nil {
			return nil, err
		}
		ptrKey = path.Join(dir, "versions", EscapeName(ref.Version)+".json")
		what = "version " + ref.Version
	case ref.Digest != "":
		h, err := ParseDigest("ref.digest", ref.Digest)
		if err != nil {
			return nil, err
		}
		ptrKey = path.Join(dir, "digests", h+".json")
		what = "pack " + ref.Digest
	default:
		ptrKey = path.Join(dir, "latest.json")
		what = "latest release"
	}
	var ptr pointer
	_, err = r.getJSON(ctx, ptrKey, &ptr)
	if errors.Is(err, ErrNotFound) && ref.Version != "" && ref.Version[0] >= '0' && ref.Version[0] <= '9' {
		_, err = r.getJSON(ctx, path.Join(dir, "versions", EscapeName("v"+ref.Version)+".json"), &ptr)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "%s not found in %s", what, where)
	}
	if err != nil {
		return nil, storeErr(err, "resolving %s", what)
	}
	if sc.streamSeg != "" && ptr.Stream != sc.stream {
		return nil, protocol.Errorf(protocol.CodeNotFound, "%s not found in %s", what, where)
	}
	if !ValidReleaseID(ptr.ReleaseID) || CheckName(KindStream, ptr.Stream) != nil {
		return nil, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", ptrKey)
	}
	rs := sc
	rs.stream, rs.streamSeg = ptr.Stream, EscapeName(ptr.Stream)
	rel, err := r.releaseState(ctx, rs, ptr.ReleaseID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "release %s is indexed but its record is missing", ptr.ReleaseID)
		}
		return nil, storeErr(err, "reading release %s", ptr.ReleaseID)
	}
	fileHex, err := ParseDigest("release file_digest", rel.FileDigest)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeServerError, "release %s is corrupt: %v", rel.ReleaseID, err)
	}
	info, err := r.store.Head(ctx, blobKey(fileHex))
	if errors.Is(err, ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "the pack of release %s is missing from the registry", rel.ReleaseID)
	}
	if err != nil {
		return nil, storeErr(err, "checking the pack blob")
	}
	if info.Size != rel.SizeBytes {
		return nil, protocol.Errorf(protocol.CodeServerError, "the pack of release %s has %d bytes, expected %d", rel.ReleaseID, info.Size, rel.SizeBytes)
	}
	dl, err := r.store.DownloadTarget(ctx, blobKey(fileHex), r.opt.PresignExpiry)
	if err != nil {
		return nil, storeErr(err, "preparing the download")
	}
	version := ref.Version
	if version == "" {
		if vs := versionsOf(rel.Labels); len(vs) > 0 {
			version = vs[len(vs)-1]
		}
	}
	tok, _ := json.Marshal(pullToken{ReleaseID: rel.ReleaseID, Digest: rel.FileDigest})
	return &protocol.PullPrepareResponse{
		Download: dl,
		Pack: protocol.PulledPack{
			Digest:    rel.FileDigest,
			SizeBytes: rel.SizeBytes,
			Stream:    rel.Stream,
			CreatedAt: rel.CreatedAt,
			ReleaseID: rel.ReleaseID,
			Version:   version,
			Labels:    rel.Labels,
		},
		FinalizeToken: pullTokenPrefix + base64.RawURLEncoding.EncodeToString(tok),
		Retention:     r.retention(ctx, rs, rel),
	}, nil
}

// fetchRecord is one pull.finalize, stored append-only.
type fetchRecord struct {
	Digest    string                `json:"digest"`
	ReleaseID string                `json:"release_id,omitempty"`
	Remote    string                `json:"remote,omitempty"`
	Target    protocol.TargetConfig `json:"target"`
	FetchedAt time.Time             `json:"fetched_at"`
}

// PullFinalize records the fetch under pulls/<file-hex>/ (never overwriting).
func (r *Registry) PullFinalize(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
	h, err := ParseDigest("digest", req.Digest)
	if err != nil {
		return nil, err
	}
	if _, err := newScope(req.Target, false); err != nil {
		return nil, err
	}
	rec := fetchRecord{Digest: req.Digest, Remote: req.Remote, Target: req.Target, FetchedAt: r.opt.Now().UTC()}
	if req.FinalizeToken != "" {
		raw, ok := strings.CutPrefix(req.FinalizeToken, pullTokenPrefix)
		var tok pullToken
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if !ok || err != nil || json.Unmarshal(b, &tok) != nil {
			return nil, invalid("malformed pull finalize_token")
		}
		if tok.Digest != req.Digest {
			return nil, invalid("digest %s differs from the one pull.prepare returned (%s)", req.Digest, truncate(tok.Digest))
		}
		if ValidReleaseID(tok.ReleaseID) {
			rec.ReleaseID = tok.ReleaseID
		}
	}
	if _, err := r.store.Head(ctx, blobKey(h)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "no pack %s in this registry", req.Digest)
		}
		return nil, storeErr(err, "checking the pack blob")
	}
	for attempt := 0; ; attempt++ {
		key := path.Join("pulls", h, rec.FetchedAt.Format("20060102T150405.000000000Z")+"-"+newToken()[:10]+".json")
		err := r.store.CreateIfAbsent(ctx, key, mustJSON(&rec))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrExists) || attempt >= 3 {
			return nil, storeErr(err, "recording the fetch")
		}
	}
	return &protocol.PullFinalizeResponse{Confirmed: true}, nil
}
