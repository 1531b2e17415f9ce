package ocistore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Media types of a pack artifact.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.evidencepack.pack.v1"
	// LayerMediaType is the media type of the one layer: the .epack file.
	LayerMediaType = "application/vnd.evidencepack.pack.v1+zip"
)

// Annotations of a pack manifest.
const (
	AnnotationReleaseID      = "org.evidencepack.release.id"
	AnnotationStream         = "org.evidencepack.stream"
	AnnotationWorkspace      = "org.evidencepack.workspace"
	AnnotationEnvironment    = "org.evidencepack.environment"
	AnnotationPackDigest     = "org.evidencepack.pack.digest"
	AnnotationManifestDigest = "org.evidencepack.manifest.digest"
	// AnnotationLabels is a JSON array of strings.
	AnnotationLabels = "org.evidencepack.labels"
	// AnnotationVersion is the last version the labels declare.
	AnnotationVersion = "org.evidencepack.version"
	AnnotationNotes   = "org.evidencepack.notes"
	// AnnotationBuildContext is a JSON object of strings.
	AnnotationBuildContext = "org.evidencepack.build_context"
	// AnnotationUpdated is when labels or notes were last added.
	AnnotationUpdated = "org.evidencepack.updated"
	// AnnotationWithdrawn marks the manifest of a push that was refused
	// after it made itself a candidate (never a release).
	AnnotationWithdrawn = "org.evidencepack.withdrawn"
	// AnnotationSigners is a JSON array of protocol.ReleaseSigner, present
	// only when the release records signers.
	AnnotationSigners = "org.evidencepack.signers"
)

// Bounds on what a manifest carries.
const (
	maxLabels            = 100
	maxNotesBytes        = 64 << 10
	maxBuildContext      = 256
	maxBuildContextBytes = 256 << 10
	// maxManifestBytes bounds a manifest read back (oras-go reads at most 4 MiB).
	maxManifestBytes = 4 << 20
)

// release is a pack release as its manifest holds it.
type release struct {
	ID                     string
	Workspace, Environment string
	Stream                 string
	FileDigest             string // sha256:<hex>, the layer's digest
	Size                   int64
	PackDigest             string
	ManifestDigest         string
	Labels                 []string
	Notes                  string
	BuildContext           map[string]string
	Signers                []protocol.ReleaseSigner
	Created, Updated       time.Time
	// Title is the layer's file name (org.opencontainers.image.title).
	Title string
	// foreign: the manifest was not written by epack (no release id), e.g.
	// `oras push` with our artifact type.
	foreign bool
	// Withdrawn: a refused push's manifest (see AnnotationWithdrawn).
	Withdrawn bool
}

// version is the version pull reports: the last one the labels declare.
func (r *release) version() string {
	if vs := versionsOf(r.Labels); len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

func (r *release) layer() ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.Digest(r.FileDigest), Size: r.Size}
	if r.Title != "" {
		d.Annotations = map[string]string{ocispec.AnnotationTitle: r.Title}
	}
	return d
}

// manifest returns the image manifest of r and its descriptor.
func (r *release) manifest() ([]byte, ocispec.Descriptor, error) {
	ann := map[string]string{
		ocispec.AnnotationCreated: r.Created.UTC().Format(time.RFC3339Nano),
		AnnotationReleaseID:       r.ID,
		AnnotationStream:          r.Stream,
	}
	set := func(k, v string) {
		if v != "" {
			ann[k] = v
		}
	}
	set(AnnotationWorkspace, r.Workspace)
	set(AnnotationEnvironment, r.Environment)
	set(AnnotationPackDigest, r.PackDigest)
	set(AnnotationManifestDigest, r.ManifestDigest)
	set(AnnotationVersion, r.version())
	set(AnnotationNotes, r.Notes)
	if len(r.Labels) > 0 {
		b, _ := json.Marshal(r.Labels)
		ann[AnnotationLabels] = string(b)
	}
	if len(r.BuildContext) > 0 {
		b, _ := json.Marshal(r.BuildContext)
		ann[AnnotationBuildContext] = string(b)
	}
	if len(r.Signers) > 0 {
		b, _ := json.Marshal(r.Signers)
		ann[AnnotationSigners] = string(b)
	}
	if !r.Updated.IsZero() {
		ann[AnnotationUpdated] = r.Updated.UTC().Format(time.RFC3339Nano)
	}
	if r.Withdrawn {
		ann[AnnotationWithdrawn] = "true"
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{r.layer()},
		Annotations:  ann,
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	if len(b) > maxManifestBytes {
		return nil, ocispec.Descriptor{}, bad("the release's labels, notes, build context and signers make a manifest of %d bytes (limit %d)", len(b), maxManifestBytes)
	}
	return b, ocispec.Descriptor{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Digest:       digest.FromBytes(b),
		Size:         int64(len(b)),
	}, nil
}

// errNotPack: a manifest that is not a pack artifact.
type errNotPack struct{ why string }

func (e errNotPack) Error() string { return "not an evidence pack artifact: " + e.why }

// parseRelease reads a pack manifest. It accepts a manifest epack wrote and
// one another tool pushed with the pack's artifact type (or config media
// type) and exactly one pack layer; annotations it does not find are left
// empty. Malformed annotations are errors.
func parseRelease(data []byte) (*release, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errNotPack{"manifest is not JSON: " + err.Error()}
	}
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest {
		return nil, errNotPack{"media type " + m.MediaType}
	}
	if m.ArtifactType != ArtifactType && m.Config.MediaType != ArtifactType {
		return nil, errNotPack{fmt.Sprintf("artifact type %q", m.ArtifactType)}
	}
	var layers []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == LayerMediaType {
			layers = append(layers, l)
		}
	}
	if len(layers) != 1 {
		return nil, errNotPack{fmt.Sprintf("%d layers of type %s, want 1", len(layers), LayerMediaType)}
	}
	l := layers[0]
	// Validate first: Algorithm panics on a digest without ':'.
	if l.Digest.Validate() != nil || l.Digest.Algorithm() != digest.SHA256 {
		return nil, errNotPack{"layer digest " + truncate(string(l.Digest)) + " is not sha256"}
	}
	if _, err := registry.ParseDigest("layer digest", string(l.Digest)); err != nil || l.Size <= 0 {
		return nil, errNotPack{"layer digest or size is malformed"}
	}
	a := m.Annotations
	r := &release{
		ID:             a[AnnotationReleaseID],
		Workspace:      a[AnnotationWorkspace],
		Environment:    a[AnnotationEnvironment],
		Stream:         a[AnnotationStream],
		FileDigest:     string(l.Digest),
		Size:           l.Size,
		PackDigest:     a[AnnotationPackDigest],
		ManifestDigest: a[AnnotationManifestDigest],
		Notes:          a[AnnotationNotes],
		Title:          l.Annotations[ocispec.AnnotationTitle],
		Withdrawn:      a[AnnotationWithdrawn] == "true",
	}
	if r.ID == "" {
		r.foreign = true
	} else if !registry.ValidReleaseID(r.ID) {
		return nil, fmt.Errorf("annotation %s %q is not a release id", AnnotationReleaseID, truncate(r.ID))
	}
	if r.Stream != "" {
		if err := registry.CheckName(registry.KindStream, r.Stream); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationStream, err)
		}
	}
	if s := a[AnnotationLabels]; s != "" {
		if err := json.Unmarshal([]byte(s), &r.Labels); err != nil {
			return nil, fmt.Errorf("annotation %s is not a JSON array of strings: %v", AnnotationLabels, err)
		}
	}
	if s := a[AnnotationBuildContext]; s != "" {
		if err := json.Unmarshal([]byte(s), &r.BuildContext); err != nil {
			return nil, fmt.Errorf("annotation %s is not a JSON object of strings: %v", AnnotationBuildContext, err)
		}
	}
	if s := a[AnnotationSigners]; s != "" {
		signers, err := parseSigners(s)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationSigners, err)
		}
		r.Signers = signers
	}
	for _, tk := range []struct {
		key string
		to  *time.Time
	}{{ocispec.AnnotationCreated, &r.Created}, {AnnotationUpdated, &r.Updated}} {
		if s := a[tk.key]; s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("annotation %s %q is not an RFC 3339 time", tk.key, truncate(s))
			}
			*tk.to = t.UTC()
		}
	}
	if r.Created.IsZero() && r.ID != "" {
		return nil, fmt.Errorf("annotation %s is missing", ocispec.AnnotationCreated)
	}
	return r, nil
}

// signerKeys are the members a signer in AnnotationSigners may have (the
// JSON names of protocol.ReleaseSigner); required ones are always written.
var signerKeys = map[string]bool{"kind": true, "signer": true, "verified": true, "key_id": false, "issuer": false, "subject": false}

// parseSigners reads AnnotationSigners as manifest() writes it. DecodeStrict
// refuses repeated keys, but encoding/json under it would still fill a field
// from a lone case variant ("KIND") and drop unknown members, so each
// object's keys are checked exactly first; then CheckSigners.
func parseSigners(s string) ([]protocol.ReleaseSigner, error) {
	var objs []map[string]json.RawMessage
	if err := protocol.DecodeStrict([]byte(s), &objs); err != nil {
		return nil, fmt.Errorf("not a JSON array of signers: %v", err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no signers (the annotation is written only when there are some)")
	}
	if len(objs) > protocol.MaxReleaseSigners {
		return nil, fmt.Errorf("%d signers, at most %d", len(objs), protocol.MaxReleaseSigners)
	}
	for i, o := range objs {
		for k, v := range o {
			if _, known := signerKeys[k]; !known {
				return nil, fmt.Errorf("signers[%d] has unknown member %.40q", i, k)
			}
			if string(v) == "null" {
				return nil, fmt.Errorf("signers[%d].%s is null", i, k)
			}
		}
		for k, required := range signerKeys {
			if _, ok := o[k]; required && !ok {
				return nil, fmt.Errorf("signers[%d].%s is missing", i, k)
			}
		}
	}
	var signers []protocol.ReleaseSigner
	if err := protocol.DecodeStrict([]byte(s), &signers); err != nil {
		return nil, fmt.Errorf("not a JSON array of signers: %v", err)
	}
	if err := protocol.CheckSigners(signers); err != nil {
		return nil, err
	}
	return signers, nil
}

// clone returns a deep copy of r.
func (r *release) clone() *release {
	c := *r
	c.Labels = slices.Clone(r.Labels)
	c.BuildContext = maps.Clone(r.BuildContext)
	c.Signers = slices.Clone(r.Signers)
	return &c
}

// titleFor is the layer's file name: the stream with '/' written '-'.
func titleFor(stream string) string {
	var b strings.Builder
	for _, r := range stream {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), ".-")
	if name == "" {
		name = "pack"
	}
	return name + ".epack"
}
