package pack

import (
	"encoding/json"
	"strconv"
)

// Manifest is manifest.json (spec_version "1.0"). Field order is the order
// the builder writes (COMPAT §1.2).
type Manifest struct {
	SpecVersion string       `json:"spec_version"`
	Stream      string       `json:"stream"`
	GeneratedAt string       `json:"generated_at"`
	PackDigest  string       `json:"pack_digest"`
	Sources     []Source     `json:"sources"`
	Artifacts   []Artifact   `json:"artifacts"`
	Provenance  *Provenance  `json:"provenance,omitempty"`
	Profiles    []ProfileRef `json:"profiles,omitempty"`
	Overlays    []ProfileRef `json:"overlays,omitempty"`
}

// Source names a collector that produced evidence.
type Source struct {
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Source       string           `json:"source,omitempty"`
	Commit       string           `json:"commit,omitempty"`
	BinaryDigest string           `json:"binary_digest,omitempty"`
	Artifacts    *SourceArtifacts `json:"artifacts,omitempty"`
}

// SourceArtifacts is sources[].artifacts: an integer count (the spec) or a
// list of artifact paths (packs written by the existing tool). Exactly one
// form is set.
type SourceArtifacts struct {
	Count *int64
	Paths []string
}

// MarshalJSON writes the list form when Paths is set, else the count.
func (s SourceArtifacts) MarshalJSON() ([]byte, error) {
	if s.Paths != nil {
		return json.Marshal(s.Paths)
	}
	if s.Count != nil {
		return []byte(strconv.FormatInt(*s.Count, 10)), nil
	}
	return []byte("null"), nil
}

// Artifact is one manifest entry. Only type "embedded" is accepted.
type Artifact struct {
	Type        string   `json:"type"`
	Path        string   `json:"path"`
	Digest      string   `json:"digest"`
	Size        int64    `json:"size"`
	ContentType string   `json:"content_type,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	Description string   `json:"description,omitempty"`
	CollectedAt string   `json:"collected_at,omitempty"`
	Schema      string   `json:"schema,omitempty"`
	Controls    []string `json:"controls,omitempty"`
}

// Provenance describes how a pack was made: "single" or "merged".
type Provenance struct {
	Type        string       `json:"type"`
	MergedAt    string       `json:"merged_at,omitempty"`
	MergedBy    string       `json:"merged_by,omitempty"`
	SourcePacks []SourcePack `json:"source_packs,omitempty"`
}

// SourcePack is one input pack of a merged pack.
type SourcePack struct {
	Stream               string            `json:"stream"`
	PackDigest           string            `json:"pack_digest"`
	ManifestDigest       string            `json:"manifest_digest,omitempty"` // 64 hex, no prefix
	Artifacts            int64             `json:"artifacts"`
	EmbeddedAttestations []json.RawMessage `json:"embedded_attestations,omitempty"`
}

// ProfileRef points at a profile or overlay.
type ProfileRef struct {
	Source string `json:"source"`
	Digest string `json:"digest,omitempty"`
}

// SigstoreBundleMediaType is the media type an embedded attestation must carry.
const SigstoreBundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Clone returns a deep copy of m.
func (m *Manifest) Clone() *Manifest {
	if m == nil {
		return nil
	}
	c := *m
	if m.Sources != nil {
		c.Sources = make([]Source, len(m.Sources))
		for i, s := range m.Sources {
			if s.Artifacts != nil {
				a := SourceArtifacts{Paths: cloneStrings(s.Artifacts.Paths)}
				if s.Artifacts.Count != nil {
					n := *s.Artifacts.Count
					a.Count = &n
				}
				s.Artifacts = &a
			}
			c.Sources[i] = s
		}
	}
	if m.Artifacts != nil {
		c.Artifacts = make([]Artifact, len(m.Artifacts))
		for i, a := range m.Artifacts {
			a.Controls = cloneStrings(a.Controls)
			c.Artifacts[i] = a
		}
	}
	if m.Provenance != nil {
		p := *m.Provenance
		if p.SourcePacks != nil {
			p.SourcePacks = make([]SourcePack, len(m.Provenance.SourcePacks))
			for i, sp := range m.Provenance.SourcePacks {
				if sp.EmbeddedAttestations != nil {
					atts := make([]json.RawMessage, len(sp.EmbeddedAttestations))
					for j, r := range sp.EmbeddedAttestations {
						atts[j] = append(json.RawMessage(nil), r...)
					}
					sp.EmbeddedAttestations = atts
				}
				p.SourcePacks[i] = sp
			}
		}
		c.Provenance = &p
	}
	c.Profiles = append([]ProfileRef(nil), m.Profiles...)
	c.Overlays = append([]ProfileRef(nil), m.Overlays...)
	if m.Profiles == nil {
		c.Profiles = nil
	}
	if m.Overlays == nil {
		c.Overlays = nil
	}
	return &c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
