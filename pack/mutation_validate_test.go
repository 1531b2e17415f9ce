package pack

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// Strict timestamps at the edges of every field (COMPAT §1.4 step 3).
func TestTimestampFieldEdges(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"0000-01-01T00:00:00Z", true}, // ISO 8601 year 0000, a leap year
		{"0000-02-29T00:00:00Z", true},
		{"9999-12-31T23:59:59Z", true},
		{"2024-12-31T00:00:00Z", true},
		{"2024-04-30T00:00:00Z", true},
		{"2024-01-31T00:00:00Z", true},
		{"2024-00-10T00:00:00Z", false},
		{"2024-01-00T00:00:00Z", false},
		{"2024-04-31T00:00:00Z", false},
		{"2024-02-30T00:00:00Z", false},
		{"2100-02-29T00:00:00Z", false},
		{"2400-02-29T00:00:00Z", true},
		{"2024-01-01T24:00:00Z", false},
		{"2024-01-01T00:60:00Z", false},
		{"2024-01-01T00:00:60Z", false},
		{"2024-01-01T0/:00:00Z", false},
		{"2024-01-01T0::00:00Z", false},
		{"2024-01-01T00:00:00ZZ", false},
		{"2024-01-01X00:00:00Z", false},
		{"2024+01-01T00:00:00Z", false},
		{"2024-01+01T00:00:00Z", false},
		{"2024-01-01T00-00:00Z", false},
		{"2024-01-01T00:00-00Z", false},
	}
	for _, tc := range tests {
		if got := IsTimestamp(tc.s); got != tc.ok {
			t.Errorf("IsTimestamp(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

// Digest strings are exactly "sha256:" and 64 lowercase hex digits; a
// source pack's manifest_digest is the 64 digits alone.
func TestDigestFormEdges(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		s             string
		digest, hex64 bool
	}{
		{"sha256:" + hex, true, false},
		{hex, false, true},
		{"sha512:" + hex, false, false},
		{"SHA256:" + hex, false, false},
		{"sha256:" + hex[:63], false, false},
		{"sha256:" + hex + "0", false, false},
		{hex[:63], false, false},
		{hex + "0", false, false},
		{"sha256:" + hex[:63] + "g", false, false},
		{"sha256:" + hex[:63] + "/", false, false},
		{"sha256:" + hex[:63] + ":", false, false},
		{"sha256:" + hex[:63] + "`", false, false},
		{"sha256:" + hex[:63] + "F", false, false},
		{hex[:63] + "g", false, false},
	}
	for _, tc := range tests {
		if got := IsDigest(tc.s); got != tc.digest {
			t.Errorf("IsDigest(%q) = %v", tc.s, got)
		}
		if got := isHex64(tc.s); got != tc.hex64 {
			t.Errorf("isHex64(%q) = %v", tc.s, got)
		}
	}
}

// Manifest.Validate is exported and may see sizes the decoder never makes:
// every size outside 0..2^53-1 is invalid_manifest, and a size that fits but
// is over 100 MiB is artifact_too_large.
func TestValidateEdges(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	merged := func(mod func(sp *SourcePack)) func(m *Manifest) {
		return func(m *Manifest) {
			sp := SourcePack{Stream: "x", PackDigest: d1, Artifacts: 1}
			mod(&sp)
			m.Provenance = &Provenance{Type: "merged", MergedAt: "2026-01-22T14:00:00Z", SourcePacks: []SourcePack{sp}}
		}
	}
	tests := []struct {
		name string
		mod  func(m *Manifest)
		code errcode.Code
		text string
	}{
		{"size 0", func(m *Manifest) { m.Artifacts[0].Size = 0 }, "", ""},
		{"size 2^53-1", func(m *Manifest) { m.Artifacts[0].Size = 1<<53 - 1 }, errcode.ArtifactTooLarge, "over the 100 MiB"},
		{"size 2^53", func(m *Manifest) { m.Artifacts[0].Size = 1 << 53 }, errcode.InvalidManifest, "0..2^53-1"},
		{"size 2^53+1", func(m *Manifest) { m.Artifacts[0].Size = 1<<53 + 1 }, errcode.InvalidManifest, "0..2^53-1"},
		{"size invalid sentinel", func(m *Manifest) { m.Artifacts[0].Size = sizeInvalid }, errcode.InvalidManifest, "0..2^53-1"},
		{"size missing sentinel", func(m *Manifest) { m.Artifacts[0].Size = sizeMissing }, errcode.MissingRequiredField, "size is missing"},
		{"size at the limit", func(m *Manifest) { m.Artifacts[0].Size = MaxArtifactSize }, "", ""},
		{"size one over the limit", func(m *Manifest) { m.Artifacts[0].Size = MaxArtifactSize + 1 }, errcode.ArtifactTooLarge, ""},
		{"source pack with 0 artifacts", merged(func(sp *SourcePack) { sp.Artifacts = 0 }), "", ""},
		{"source pack artifacts missing", merged(func(sp *SourcePack) { sp.Artifacts = -1 }), errcode.MissingRequiredField, "artifacts is missing"},
		{"source pack manifest digest", merged(func(sp *SourcePack) { sp.ManifestDigest = hex }), "", ""},
		{"source pack manifest digest short", merged(func(sp *SourcePack) { sp.ManifestDigest = hex[:63] }), errcode.InvalidManifest, "manifest_digest"},
		{"source pack manifest digest prefixed", merged(func(sp *SourcePack) { sp.ManifestDigest = "sha256:" + hex }), errcode.InvalidManifest, "manifest_digest"},
		{"source pack pack digest bare", merged(func(sp *SourcePack) { sp.PackDigest = hex }), errcode.InvalidManifest, "pack_digest"},
		{"source pack no stream", merged(func(sp *SourcePack) { sp.Stream = "" }), errcode.MissingRequiredField, "stream is missing"},
		{"source pack no pack digest", merged(func(sp *SourcePack) { sp.PackDigest = "" }), errcode.MissingRequiredField, "pack_digest is missing"},
		{"merged_at not strict", func(m *Manifest) {
			merged(func(*SourcePack) {})(m)
			m.Provenance.MergedAt = "2026-01-22"
		}, errcode.InvalidTimestamp, "merged_at"},
		{"collected_at strict", func(m *Manifest) { m.Artifacts[0].CollectedAt = "2026-01-22T14:00:00Z" }, "", ""},
		{"profile digest", func(m *Manifest) { m.Profiles = []ProfileRef{{Source: "p", Digest: d1}} }, "", ""},
		{"overlay digest bare hex", func(m *Manifest) { m.Overlays = []ProfileRef{{Source: "o", Digest: hex}} }, errcode.InvalidManifest, "overlays[0].digest"},
		{"overlay no source", func(m *Manifest) { m.Overlays = []ProfileRef{{Digest: d1}} }, errcode.MissingRequiredField, "overlays[0].source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest(sample...)
			tc.mod(m)
			err := m.Validate()
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code, tc.text)
		})
	}
}
