package ocistore

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/protocol"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
)

// A pack's signatures are referrers of its release as well, so that the
// ecosystem's tools show who signed it (`oras discover`): one artifact per
// Sigstore bundle in the pack's attestations/, its one layer the bundle's
// bytes as stored in the pack. They are copies for discovery: epack checks
// the signatures inside the pulled pack, never these. The artifact type is
// our own so that a tool verifying Sigstore bundles against the OCI
// subject does not mistake them for signatures of the manifest (they sign
// the pack's manifest.json digest).
const (
	// SignatureArtifactType is a signature's manifest artifactType.
	SignatureArtifactType = "application/vnd.evidencepack.signature.v1"
	// SignatureLayerMediaType is the media type of its layer, the bundle.
	SignatureLayerMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// AnnotationSignatureEntry names the pack entry the bundle came from.
	AnnotationSignatureEntry = "org.evidencepack.signature.entry"

	// maxSignatures and maxSignatureBytes bound what is read from a pack
	// (pack.Open refuses larger attestations anyway).
	maxSignatures     = 64
	maxSignatureBytes = 1 << 20
)

var signatureKind = referrerKind{what: "signature", artifactType: SignatureArtifactType, layerType: SignatureLayerMediaType, tagPrefix: sigTagPrefix,
	tagFor: func(fileHex string, it *storedRun) string { return sigTag(fileHex, it.layer) }}

// sigTagPrefix starts the tags of the signatures of one pack.
func sigTagPrefix(fileHex string) string { return "sig-" + fileHex[:24] + "-" }

// sigTag is the tag of the signature whose bundle has digest d: the same
// bundle always lands on the same tag.
func sigTag(fileHex string, d digest.Digest) string {
	return sigTagPrefix(fileHex) + strings.TrimPrefix(string(d), "sha256:")[:24]
}

// packSignature is one bundle read from a pack.
type packSignature struct {
	entry string
	data  []byte
}

// packSignatures reads the Sigstore bundles in the pack file at path that
// sign manifestHex. A file that is not the pushed size is not the pushed
// pack and gives none; a bundle over another manifest could never verify
// for this pack and is left out.
func packSignatures(path string, size int64, manifestHex string) ([]packSignature, error) {
	if path == "" || manifestHex == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return nil, err
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var out []packSignature
	for _, zf := range zr.File {
		rest, ok := strings.CutPrefix(zf.Name, "attestations/")
		if !ok || strings.Contains(rest, "/") || !strings.HasSuffix(rest, ".sigstore.json") || zf.UncompressedSize64 > maxSignatureBytes {
			continue
		}
		if len(out) == maxSignatures {
			break
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", zf.Name, path, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxSignatureBytes+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", zf.Name, path, err)
		}
		if len(data) <= maxSignatureBytes && bundleSigns(data, manifestHex) {
			out = append(out, packSignature{entry: zf.Name, data: data})
		}
	}
	return out, nil
}

// bundleSigns reports whether a Sigstore bundle's DSSE statement names
// the manifest digest manifestHex (the signature itself is not checked:
// verifiers check it in the pack).
func bundleSigns(data []byte, manifestHex string) bool {
	// Keys are matched exactly (encoding/json would take "PayLoad" for
	// "payload"), and a bundle that repeats a key could mean two things.
	if manifestHex == "" || protocol.CheckJSON(data) != nil {
		return false
	}
	var top, dsse map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || json.Unmarshal(top["dsseEnvelope"], &dsse) != nil {
		return false
	}
	var payloadB64 string
	if json.Unmarshal(dsse["payload"], &payloadB64) != nil {
		return false
	}
	payload, err := base64.StdEncoding.DecodeString(payloadB64)
	if err != nil || protocol.CheckJSON(payload) != nil {
		return false
	}
	var st map[string]json.RawMessage
	var subjects []map[string]json.RawMessage
	if json.Unmarshal(payload, &st) != nil || json.Unmarshal(st["subject"], &subjects) != nil {
		return false
	}
	for _, s := range subjects {
		var d map[string]string
		if json.Unmarshal(s["digest"], &d) == nil && d["sha256"] == manifestHex {
			return true
		}
	}
	return false
}

// attachSignatures makes each of sigs a referrer of subject, the
// release's manifest. Bundles already stored (same bytes, same tag) are
// not stored again.
func (r *Registry) attachSignatures(ctx context.Context, repo *remote.Repository, in *pushIn, sigs []packSignature, subject ocispec.Descriptor) (int, error) {
	for _, s := range sigs {
		layer := ocispec.Descriptor{MediaType: SignatureLayerMediaType, Digest: digest.FromBytes(s.data), Size: int64(len(s.data)),
			Annotations: map[string]string{ocispec.AnnotationTitle: strings.TrimPrefix(s.entry, "attestations/")}}
		tag := sigTag(in.FileHex, layer.Digest)
		have, err := r.readReferrer(ctx, repo, signatureKind, tag)
		if err != nil {
			return 0, err
		}
		if have != nil {
			continue // indexReferrers moves it to subject if it names another manifest
		}
		if err := r.pushKindArtifact(ctx, repo, signatureKind, subject, tag, layer, s.data,
			map[string]string{AnnotationSignatureEntry: s.entry}, "storing signature "+s.entry); err != nil {
			return 0, err
		}
	}
	if err := r.indexReferrers(ctx, repo, signatureKind, in.FileHex, subject); err != nil {
		return 0, err
	}
	return len(sigs), nil
}

// attachReleaseSignatures attaches the signatures of the pack at path
// (the host's copy, which the push verified) to the manifest the release
// id tags now. A pack without signatures costs no request.
func (r *Registry) attachReleaseSignatures(ctx context.Context, repo *remote.Repository, in *pushIn, path, releaseID string) (int, error) {
	if path == "" || !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return 0, nil
	}
	sigs, err := packSignatures(path, in.Size, strings.TrimPrefix(in.ManifestDigest, "sha256:"))
	if err != nil || len(sigs) == 0 {
		return 0, err
	}
	f, err := r.lookup(ctx, repo, releaseID)
	if err != nil || f == nil {
		return 0, err
	}
	return r.attachSignatures(ctx, repo, in, sigs, f.desc)
}
