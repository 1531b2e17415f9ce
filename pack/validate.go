package pack

import (
	"fmt"

	"github.com/evidencerelay/epack/errcode"
)

// IsDigest reports whether s is "sha256:" followed by 64 lowercase hex digits.
func IsDigest(s string) bool {
	return len(s) == 71 && s[:7] == "sha256:" && isLowerHex(s[7:])
}

// isHex64 reports whether s is 64 lowercase hex digits (a digest without prefix).
func isHex64(s string) bool { return len(s) == 64 && isLowerHex(s) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// IsTimestamp reports whether s is a strict UTC timestamp YYYY-MM-DDTHH:MM:SSZ
// naming a real calendar second (no fraction, no offset).
func IsTimestamp(s string) bool {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d := num(0, 4), num(5, 7), num(8, 10)
	h, mi, sec := num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[mo]
	if mo == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		days = 29
	}
	return d <= days
}

// Validate checks a decoded manifest in the order of COMPAT §1.4 and stops
// at the first failure.
func (m *Manifest) Validate() error {
	missing := func(f string) error {
		return errcode.New(errcode.MissingRequiredField, "manifest.json: required field %q is missing or empty", f)
	}
	switch {
	case m.SpecVersion == "":
		return missing("spec_version")
	case m.Stream == "":
		return missing("stream")
	case m.GeneratedAt == "":
		return missing("generated_at")
	case m.PackDigest == "":
		return missing("pack_digest")
	case m.Sources == nil:
		return missing("sources")
	case m.Artifacts == nil:
		return missing("artifacts")
	}
	if m.SpecVersion != SpecVersion {
		return errcode.New(errcode.UnsupportedSpec, "manifest.json: spec_version %q is not supported (want %q)", m.SpecVersion, SpecVersion)
	}
	if !IsTimestamp(m.GeneratedAt) {
		return errcode.New(errcode.InvalidTimestamp, "manifest.json: generated_at %q is not YYYY-MM-DDTHH:MM:SSZ", m.GeneratedAt)
	}
	if !IsDigest(m.PackDigest) {
		return errcode.New(errcode.InvalidManifest, "manifest.json: pack_digest %q is not sha256:<64 lowercase hex>", m.PackDigest)
	}
	keys := make(map[string]string, len(m.Artifacts))
	for i := range m.Artifacts {
		a := &m.Artifacts[i]
		where := fmt.Sprintf("manifest.json: artifacts[%d]", i)
		if a.Type != "embedded" {
			return errcode.New(errcode.InvalidManifest, "%s: type %q is not supported (only \"embedded\")", where, a.Type)
		}
		if !IsDigest(a.Digest) {
			return errcode.New(errcode.InvalidManifest, "%s: digest %q is not sha256:<64 lowercase hex>", where, a.Digest)
		}
		if a.Path == "" {
			return errcode.New(errcode.MissingRequiredField, "%s: path is missing", where)
		}
		if err := validateArtifactPath(a.Path); err != nil {
			return err
		}
		key := collisionKey(a.Path)
		if prev, dup := keys[key]; dup {
			return errcode.New(errcode.DuplicatePath, "%s: path %q collides with %q", where, a.Path, prev).
				WithHint("artifact paths must be unique ignoring case and trailing dots or spaces")
		}
		keys[key] = a.Path
		switch {
		case a.Size == sizeMissing:
			return errcode.New(errcode.MissingRequiredField, "%s: size is missing", where)
		case a.Size < 0 || a.Size > 1<<53-1:
			return errcode.New(errcode.InvalidManifest, "%s: size must be an integer in 0..2^53-1", where)
		case a.Size > MaxArtifactSize:
			return errcode.New(errcode.ArtifactTooLarge, "%s: size %d is over the 100 MiB artifact limit", where, a.Size)
		}
		if a.CollectedAt != "" && !IsTimestamp(a.CollectedAt) {
			return errcode.New(errcode.InvalidTimestamp, "%s: collected_at %q is not YYYY-MM-DDTHH:MM:SSZ", where, a.CollectedAt)
		}
	}
	for i, s := range m.Sources {
		if s.Name == "" {
			return errcode.New(errcode.MissingRequiredField, "manifest.json: sources[%d].name is missing", i)
		}
	}
	if err := m.Provenance.validate(); err != nil {
		return err
	}
	for _, list := range []struct {
		name string
		refs []ProfileRef
	}{{"profiles", m.Profiles}, {"overlays", m.Overlays}} {
		for i, r := range list.refs {
			if r.Source == "" {
				return errcode.New(errcode.MissingRequiredField, "manifest.json: %s[%d].source is missing", list.name, i)
			}
			if r.Digest != "" && !IsDigest(r.Digest) {
				return errcode.New(errcode.InvalidManifest, "manifest.json: %s[%d].digest %q is not a digest", list.name, i, r.Digest)
			}
		}
	}
	return nil
}

func (p *Provenance) validate() error {
	if p == nil {
		return nil
	}
	switch p.Type {
	case "":
		return errcode.New(errcode.MissingRequiredField, "manifest.json: provenance.type is missing")
	case "single":
		return nil
	case "merged":
	default:
		return errcode.New(errcode.InvalidManifest, "manifest.json: provenance.type %q is not \"single\" or \"merged\"", p.Type)
	}
	if p.MergedAt == "" {
		return errcode.New(errcode.MissingRequiredField, "manifest.json: provenance.merged_at is required for merged packs")
	}
	if !IsTimestamp(p.MergedAt) {
		return errcode.New(errcode.InvalidTimestamp, "manifest.json: provenance.merged_at %q is not YYYY-MM-DDTHH:MM:SSZ", p.MergedAt)
	}
	if len(p.SourcePacks) == 0 {
		return errcode.New(errcode.MissingRequiredField, "manifest.json: provenance.source_packs must not be empty for merged packs")
	}
	for i, sp := range p.SourcePacks {
		where := fmt.Sprintf("manifest.json: provenance.source_packs[%d]", i)
		switch {
		case sp.Stream == "":
			return errcode.New(errcode.MissingRequiredField, "%s.stream is missing", where)
		case sp.PackDigest == "":
			return errcode.New(errcode.MissingRequiredField, "%s.pack_digest is missing", where)
		case !IsDigest(sp.PackDigest):
			return errcode.New(errcode.InvalidManifest, "%s.pack_digest %q is not a digest", where, sp.PackDigest)
		case sp.ManifestDigest != "" && !isHex64(sp.ManifestDigest):
			return errcode.New(errcode.InvalidManifest, "%s.manifest_digest must be 64 lowercase hex without a prefix", where)
		case sp.Artifacts < 0:
			return errcode.New(errcode.MissingRequiredField, "%s.artifacts is missing", where)
		}
		for j, raw := range sp.EmbeddedAttestations {
			if err := validateBundle(raw); err != nil {
				return errcode.Wrap(errcode.InvalidManifest, err, "%s.embedded_attestations[%d]", where, j)
			}
		}
	}
	return nil
}
