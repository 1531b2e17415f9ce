package pack

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
)

// ParseManifest decodes manifest.json strictly (COMPAT §1.3, ARCHITECTURE §3)
// and validates it (§1.4): one JSON object, no duplicate keys at any depth,
// exact-case field names, no unknown fields, integers as whole numbers in
// 0..2^53-1. It does not compute the manifest digest.
func ParseManifest(data []byte) (*Manifest, error) {
	m, _, err := parseManifestDigest(data, false)
	return m, err
}

// parseManifestDigest parses data once, decodes and validates the manifest
// and, when digest is set, canonicalizes the same tree for the manifest digest.
func parseManifestDigest(data []byte, digest bool) (*Manifest, string, error) {
	v, err := jcs.ParseLimited(data, MaxManifestValues)
	if err != nil {
		return nil, "", jsonError(err)
	}
	m, err := decodeValidManifest(v)
	if err != nil || !digest {
		return m, "", err
	}
	c, err := jcs.Append(make([]byte, 0, len(data)), v, jcs.SafeInteger)
	if err != nil {
		return nil, "", jsonError(err)
	}
	return m, DigestBytes(c), nil
}

func decodeValidManifest(v *jcs.Value) (*Manifest, error) {
	m, err := decodeManifest(v)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// jsonError maps a jcs error to the manifest error codes.
func jsonError(err error) error {
	var je *jcs.Error
	if errors.As(err, &je) {
		switch je.Kind {
		case jcs.ErrDuplicateKey:
			return errcode.Wrap(errcode.DuplicateKeys, err, "manifest.json")
		case jcs.ErrNumber, jcs.ErrNotObject, jcs.ErrTooMany:
			return errcode.Wrap(errcode.InvalidManifest, err, "manifest.json")
		}
	}
	return errcode.Wrap(errcode.InvalidJSON, err, "manifest.json is not valid JSON")
}

func typeErr(where string, want string, v *jcs.Value) error {
	return errcode.New(errcode.InvalidJSON, "manifest.json: %s must be %s, got %s", where, want, v.Kind)
}

func unknownField(where, key string) error {
	return errcode.New(errcode.InvalidJSON, "manifest.json: unknown field %q in %s", key, where).
		WithHint("field names are case-sensitive; only spec_version 1.0 fields are allowed")
}

func getString(v *jcs.Value, where string, dst *string) error {
	switch v.Kind {
	case jcs.Null:
		return nil
	case jcs.String:
		*dst = v.Str
		return nil
	}
	return typeErr(where, "a string", v)
}

func getStrings(v *jcs.Value, where string, dst *[]string) error {
	switch v.Kind {
	case jcs.Null:
		return nil
	case jcs.Array:
		out := make([]string, len(v.Items))
		for i := range v.Items {
			if v.Items[i].Kind != jcs.String {
				return typeErr(fmt.Sprintf("%s[%d]", where, i), "a string", &v.Items[i])
			}
			out[i] = v.Items[i].Str
		}
		*dst = out
		return nil
	}
	return typeErr(where, "an array of strings", v)
}

// getInt decodes an integer field: any JSON number that is a whole number
// in 0..2^53-1. Returns present=false for absent/null.
func getInt(v *jcs.Value, where string) (n int64, present bool, err error) {
	switch v.Kind {
	case jcs.Null:
		return 0, false, nil
	case jcs.Number:
		n, err := jcs.ParseSafeInteger(v.Str)
		if err != nil {
			return 0, true, errcode.Wrap(errcode.InvalidManifest, err, "manifest.json: %s must be an integer in 0..2^53-1", where)
		}
		return n, true, nil
	}
	return 0, true, typeErr(where, "a number", v)
}

func objectOf(v *jcs.Value, where string) error {
	if v.Kind != jcs.Object {
		return typeErr(where, "an object", v)
	}
	return nil
}

func decodeManifest(v *jcs.Value) (*Manifest, error) {
	if err := objectOf(v, "manifest"); err != nil {
		return nil, err
	}
	m := &Manifest{}
	for i := range v.Members {
		mem := &v.Members[i]
		val := &mem.Value
		var err error
		switch mem.Key {
		case "spec_version":
			err = getString(val, "spec_version", &m.SpecVersion)
		case "stream":
			err = getString(val, "stream", &m.Stream)
		case "generated_at":
			err = getString(val, "generated_at", &m.GeneratedAt)
		case "pack_digest":
			err = getString(val, "pack_digest", &m.PackDigest)
		case "sources":
			m.Sources, err = decodeSources(val)
		case "artifacts":
			m.Artifacts, err = decodeArtifacts(val)
		case "provenance":
			m.Provenance, err = decodeProvenance(val)
		case "profiles":
			m.Profiles, err = decodeProfiles(val, "profiles")
		case "overlays":
			m.Overlays, err = decodeProfiles(val, "overlays")
		default:
			err = unknownField("manifest", mem.Key)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

func decodeSources(v *jcs.Value) ([]Source, error) {
	if v.Kind == jcs.Null {
		return nil, nil
	}
	if v.Kind != jcs.Array {
		return nil, typeErr("sources", "an array", v)
	}
	out := make([]Source, len(v.Items))
	for i := range v.Items {
		where := fmt.Sprintf("sources[%d]", i)
		it := &v.Items[i]
		if err := objectOf(it, where); err != nil {
			return nil, err
		}
		s := &out[i]
		for j := range it.Members {
			mem := &it.Members[j]
			val := &mem.Value
			var err error
			switch mem.Key {
			case "name":
				err = getString(val, where+".name", &s.Name)
			case "version":
				err = getString(val, where+".version", &s.Version)
			case "source":
				err = getString(val, where+".source", &s.Source)
			case "commit":
				err = getString(val, where+".commit", &s.Commit)
			case "binary_digest":
				err = getString(val, where+".binary_digest", &s.BinaryDigest)
			case "artifacts":
				switch val.Kind {
				case jcs.Null:
				case jcs.Array:
					var paths []string
					if err = getStrings(val, where+".artifacts", &paths); err == nil {
						s.Artifacts = &SourceArtifacts{Paths: paths}
					}
				default:
					var n int64
					if n, _, err = getInt(val, where+".artifacts"); err == nil {
						s.Artifacts = &SourceArtifacts{Count: &n}
					}
				}
			default:
				err = unknownField(where, mem.Key)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func decodeArtifacts(v *jcs.Value) ([]Artifact, error) {
	if v.Kind == jcs.Null {
		return nil, nil
	}
	if v.Kind != jcs.Array {
		return nil, typeErr("artifacts", "an array", v)
	}
	out := make([]Artifact, len(v.Items))
	for i := range v.Items {
		where := fmt.Sprintf("artifacts[%d]", i)
		it := &v.Items[i]
		if err := objectOf(it, where); err != nil {
			return nil, err
		}
		a := &out[i]
		sizeSeen := false
		var sizeErr error
		for j := range it.Members {
			mem := &it.Members[j]
			val := &mem.Value
			var err error
			switch mem.Key {
			case "type":
				err = getString(val, where+".type", &a.Type)
			case "path":
				err = getString(val, where+".path", &a.Path)
			case "digest":
				err = getString(val, where+".digest", &a.Digest)
			case "size":
				// Range errors are reported in validation order (§1.4), so keep them.
				if val.Kind != jcs.Null && val.Kind != jcs.Number {
					err = typeErr(where+".size", "a number", val)
					break
				}
				a.Size, sizeSeen, sizeErr = getInt(val, where+".size")
			case "content_type":
				err = getString(val, where+".content_type", &a.ContentType)
			case "display_name":
				err = getString(val, where+".display_name", &a.DisplayName)
			case "description":
				err = getString(val, where+".description", &a.Description)
			case "collected_at":
				err = getString(val, where+".collected_at", &a.CollectedAt)
			case "schema":
				err = getString(val, where+".schema", &a.Schema)
			case "controls":
				err = getStrings(val, where+".controls", &a.Controls)
			default:
				err = unknownField(where, mem.Key)
			}
			if err != nil {
				return nil, err
			}
		}
		switch {
		case !sizeSeen:
			a.Size = sizeMissing
		case sizeErr != nil:
			a.Size = sizeInvalid
		}
	}
	return out, nil
}

// Sentinels kept in Artifact.Size between decoding and validation.
const (
	sizeMissing = -1
	sizeInvalid = -2
)

func decodeProvenance(v *jcs.Value) (*Provenance, error) {
	if v.Kind == jcs.Null {
		return nil, nil
	}
	if err := objectOf(v, "provenance"); err != nil {
		return nil, err
	}
	p := &Provenance{}
	for i := range v.Members {
		mem := &v.Members[i]
		val := &mem.Value
		var err error
		switch mem.Key {
		case "type":
			err = getString(val, "provenance.type", &p.Type)
		case "merged_at":
			err = getString(val, "provenance.merged_at", &p.MergedAt)
		case "merged_by":
			err = getString(val, "provenance.merged_by", &p.MergedBy)
		case "source_packs":
			p.SourcePacks, err = decodeSourcePacks(val)
		default:
			err = unknownField("provenance", mem.Key)
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// source pack artifacts must be present; -1 marks absence.
func decodeSourcePacks(v *jcs.Value) ([]SourcePack, error) {
	if v.Kind == jcs.Null {
		return nil, nil
	}
	if v.Kind != jcs.Array {
		return nil, typeErr("provenance.source_packs", "an array", v)
	}
	out := make([]SourcePack, len(v.Items))
	for i := range v.Items {
		where := fmt.Sprintf("provenance.source_packs[%d]", i)
		it := &v.Items[i]
		if err := objectOf(it, where); err != nil {
			return nil, err
		}
		sp := &out[i]
		sp.Artifacts = -1
		for j := range it.Members {
			mem := &it.Members[j]
			val := &mem.Value
			var err error
			switch mem.Key {
			case "stream":
				err = getString(val, where+".stream", &sp.Stream)
			case "pack_digest":
				err = getString(val, where+".pack_digest", &sp.PackDigest)
			case "manifest_digest":
				err = getString(val, where+".manifest_digest", &sp.ManifestDigest)
			case "artifacts":
				var n int64
				var present bool
				if n, present, err = getInt(val, where+".artifacts"); err == nil && present {
					sp.Artifacts = n
				}
			case "embedded_attestations":
				if val.Kind == jcs.Null {
					break
				}
				if val.Kind != jcs.Array {
					err = typeErr(where+".embedded_attestations", "an array", val)
					break
				}
				sp.EmbeddedAttestations = make([]json.RawMessage, len(val.Items))
				for k := range val.Items {
					raw, cerr := jcs.Append(nil, &val.Items[k], jcs.General)
					if cerr != nil {
						return nil, errcode.Wrap(errcode.InvalidManifest, cerr, "manifest.json: %s.embedded_attestations[%d]", where, k)
					}
					sp.EmbeddedAttestations[k] = raw
				}
			default:
				err = unknownField(where, mem.Key)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func decodeProfiles(v *jcs.Value, field string) ([]ProfileRef, error) {
	if v.Kind == jcs.Null {
		return nil, nil
	}
	if v.Kind != jcs.Array {
		return nil, typeErr(field, "an array", v)
	}
	out := make([]ProfileRef, len(v.Items))
	for i := range v.Items {
		where := fmt.Sprintf("%s[%d]", field, i)
		it := &v.Items[i]
		if err := objectOf(it, where); err != nil {
			return nil, err
		}
		for j := range it.Members {
			mem := &it.Members[j]
			var err error
			switch mem.Key {
			case "source":
				err = getString(&mem.Value, where+".source", &out[i].Source)
			case "digest":
				err = getString(&mem.Value, where+".digest", &out[i].Digest)
			default:
				err = unknownField(where, mem.Key)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
