package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// rawInput returns the bytes a case feeds to the implementation: input_json
// or input_hex when present, a string input as its text, else the raw JSON.
func rawInput(t obj, key string) ([]byte, error) {
	if s := t.str("input_json"); t.has("input_json") {
		return []byte(s), nil
	}
	if t.has("input_hex") {
		return hex.DecodeString(t.str("input_hex"))
	}
	raw := t[key]
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil
	}
	return raw, nil
}

func (r *run) jcsFile(v obj) error {
	for i, t := range v.list("tests") {
		in, err := rawInput(t, "input")
		if err != nil {
			return err
		}
		out, cerr := jcs.Canonicalize(in, jcs.General)
		comp := map[string]any{}
		if cerr == nil {
			comp["canonical"] = string(out)
		}
		want := map[string]any{}
		if t.has("expected_canonical") {
			want["canonical"] = t.str("expected_canonical")
		}
		r.add(caseName(t, i), t.valid(true), resultOf(cerr, comp), want, "")
	}
	// Number vectors: the Evidence Pack integer policy, where a mantissa
	// with a fractional part is refused even if the value is whole.
	for _, group := range []struct {
		key   string
		valid bool
	}{{"valid_numbers", true}, {"invalid_numbers", false}} {
		for i, t := range v.list(group.key) {
			in := t.str("input")
			out, err := jcs.Canonicalize([]byte(in), jcs.StrictInteger)
			comp := map[string]any{}
			if err == nil {
				comp["canonical"] = string(out)
			}
			want := map[string]any{}
			if t.has("expected_canonical") {
				want["canonical"] = t.str("expected_canonical")
			}
			r.add(group.key+"/"+caseName(t, i), t.valid(group.valid), resultOf(err, comp), want, "")
		}
	}
	return nil
}

// manifestCase canonicalizes and digests raw manifest bytes; full also
// applies the strict manifest decoder and validation.
func manifestCase(raw []byte, full bool) Result {
	c, err := jcs.Manifest(raw)
	if err != nil {
		return resultOf(err, nil)
	}
	sum := sha256.Sum256(c)
	comp := map[string]any{"canonical": string(c), "sha256": hex.EncodeToString(sum[:]), "digest": "sha256:" + hex.EncodeToString(sum[:])}
	if full {
		if _, err := pack.ParseManifest(raw); err != nil {
			return resultOf(err, comp)
		}
	}
	return resultOf(nil, comp)
}

func (r *run) manifestDigestFile(v obj) error {
	if in := v.obj("input"); in.has("manifest") {
		res := manifestCase(in["manifest"], true)
		want := map[string]any{}
		if exp := v.obj("expected"); exp != nil {
			if exp.has("jcs_canonical") {
				want["canonical"] = exp.str("jcs_canonical")
			}
			if exp.has("sha256") {
				want["sha256"] = exp.str("sha256")
			}
		}
		r.add("", v.valid(true), res, want, "")
	}
	for i, t := range v.list("tests") {
		switch {
		case t.has("variants"):
			var digests []string
			var firstCanon string
			var failed error
			for _, vr := range t.list("variants") {
				c, err := jcs.Manifest([]byte(vr.str("json")))
				if err != nil {
					failed = fmt.Errorf("variant %s: %w", vr.str("name"), err)
					break
				}
				if firstCanon == "" {
					firstCanon = string(c)
				}
				digests = append(digests, pack.DigestBytes(c))
			}
			same := true
			for _, d := range digests {
				same = same && d == digests[0]
			}
			comp := map[string]any{"all_same_digest": same, "canonical": firstCanon}
			want := map[string]any{"all_same_digest": true}
			if t.has("expected_canonical") {
				want["canonical"] = t.str("expected_canonical")
			}
			r.add(caseName(t, i), t.valid(true), resultOf(failed, comp), want, "")
		case t.has("manifest"):
			want := map[string]any{}
			if t.has("expected_canonical") {
				want["canonical"] = t.str("expected_canonical")
			}
			if t.has("expected_digest") {
				want["digest"] = t.str("expected_digest")
			}
			r.add(caseName(t, i), t.valid(true), manifestCase(t["manifest"], true), want, "")
		default:
			in, err := rawInput(t, "input")
			if err != nil {
				return err
			}
			_, derr := pack.ManifestDigest(in)
			r.add(caseName(t, i), t.valid(false), resultOf(derr, nil), nil, "")
		}
	}
	return nil
}

func (r *run) packDigestFile(v obj) error {
	var arts []pack.Artifact
	if err := json.Unmarshal(v.obj("input")["artifacts"], &arts); err != nil {
		return err
	}
	in := pack.PackDigestInput(arts)
	var sorted []string
	for _, line := range strings.Split(strings.TrimSuffix(string(in), "\n"), "\n") {
		if p, _, ok := strings.Cut(line, "\t"); ok {
			sorted = append(sorted, p)
		}
	}
	comp := map[string]any{"canonical_input": string(in), "pack_digest": pack.DigestBytes(in), "sorted_paths": sorted}
	want := map[string]any{}
	exp := v.obj("expected")
	for _, k := range []string{"canonical_input", "pack_digest"} {
		if exp.has(k) {
			want[k] = exp.str(k)
		}
	}
	if exp.has("sorted_paths") {
		var sp []string
		exp.decode("sorted_paths", &sp)
		want["sorted_paths"] = sp
	}
	r.add("", v.valid(true), resultOf(nil, comp), want, "")
	return nil
}

const emptyDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// wrapManifest returns a minimal valid manifest with extra members spliced in
// (raw JSON, already prefixed by a comma) and the given artifacts array.
func wrapManifest(artifacts string, sources string, extra string) []byte {
	if artifacts == "" {
		artifacts = "[]"
	}
	if sources == "" {
		sources = "[]"
	}
	return []byte(`{"spec_version":"1.0","stream":"test/stream","generated_at":"2026-01-20T12:00:00Z","pack_digest":"` +
		emptyDigest + `","sources":` + sources + `,"artifacts":` + artifacts + extra + `}`)
}

func parseResult(raw []byte) Result {
	_, err := pack.ParseManifest(raw)
	return resultOf(err, nil)
}

// expectedCode maps a vector's reason / expected_error to our code when the
// mapping is exact; unknown names are not checked.
func expectedCode(t obj) string {
	for _, k := range []string{"expected_error", "reason"} {
		switch t.str(k) {
		case "duplicate_path":
			return string(errcode.DuplicatePath)
		case "unsupported_spec_version":
			return string(errcode.UnsupportedSpec)
		case "compression_bomb":
			return string(errcode.ZipBomb)
		case "symlink", "device_file", "non_regular_file", "path_traversal", "apple_double", "apple_metadata",
			"extra_top_level_entry", "attestation_not_direct_child", "invalid_attestation_filename", "invalid_directory_entry",
			"directory_slash_mismatch", "extra_artifact_not_in_manifest", "artifact_outside_directory", "manifest_not_at_root":
			return string(errcode.InvalidPath)
		case "missing_embedded_artifact":
			return string(errcode.MissingEntry)
		case "missing_manifest", "missing_artifacts_directory":
			return string(errcode.MissingRequiredField)
		case "invalid_zip_format":
			return string(errcode.NotAZip)
		}
	}
	return ""
}

const refSkip = "referenced artifacts are an optional feature this implementation does not support (type \"reference\" is refused)"

func (r *run) manifestFile(v obj) error {
	base := path.Base(r.name)
	switch base {
	case "access-policy.json", "referenced-uri-handling.json":
		for _, key := range []string{"valid_policies", "invalid_policies", "digest_verification_tests", "uri_safety_tests"} {
			for i, t := range v.list(key) {
				r.skip(key+"/"+caseName(t, i), t.valid(key == "valid_policies"), refSkip)
			}
		}
	case "logging-secrets.json":
		for i, t := range v.list("tests") {
			r.skip(caseName(t, i), true, "logging and redaction are owned by the transfer and remote packages, not by pack verification")
		}
	case "artifact-fields.json":
		for i, t := range v.list("embedded_artifact_tests") {
			r.add(caseName(t, i), t.valid(true), parseResult(wrapManifest("["+string(t["input"])+"]", "", "")), nil, "")
		}
		for i, t := range v.list("referenced_artifact_tests") {
			r.skip("reference/"+caseName(t, i), t.valid(true), refSkip)
		}
	case "digest-format.json":
		for _, g := range []struct {
			key   string
			valid bool
		}{{"valid_digests", true}, {"invalid_digests", false}} {
			for i, t := range v.list(g.key) {
				var err error
				if !pack.IsDigest(t.str("value")) {
					err = errcode.New(errcode.InvalidManifest, "%q is not sha256:<64 lowercase hex>", t.str("value"))
				}
				r.add(g.key+"/"+fmt.Sprint(i), t.valid(g.valid), resultOf(err, nil), nil, "")
			}
		}
	case "timestamp-formats.json":
		for _, g := range []struct {
			key   string
			valid bool
		}{{"valid_timestamps", true}, {"invalid_timestamps", false}} {
			for i, t := range v.list(g.key) {
				var err error
				if !pack.IsTimestamp(t.str("value")) {
					err = errcode.New(errcode.InvalidTimestamp, "%q is not YYYY-MM-DDTHH:MM:SSZ", t.str("value"))
				}
				r.add(g.key+"/"+fmt.Sprint(i), t.valid(g.valid), resultOf(err, nil), nil, "")
			}
		}
	case "integer-validation.json":
		for _, g := range []struct {
			key   string
			valid bool
		}{{"valid_integers", true}, {"invalid_integers", false}} {
			for i, t := range v.list(g.key) {
				lit := t.str("json")
				raw := wrapManifest("", `[{"name":"x","artifacts":`+lit+`}]`, "")
				m, err := pack.ParseManifest(raw)
				comp := map[string]any{}
				if err == nil && m.Sources[0].Artifacts != nil && m.Sources[0].Artifacts.Count != nil {
					comp["value"] = *m.Sources[0].Artifacts.Count
				}
				want := map[string]any{}
				if t.has("value") {
					var n int64
					t.decode("value", &n)
					want["value"] = n
				}
				r.add(g.key+"/"+caseName(t, i), t.valid(g.valid), resultOf(err, comp), want, "")
			}
		}
	case "provenance-validation.json":
		for _, g := range []struct {
			key   string
			valid bool
		}{{"valid_provenance", true}, {"invalid_provenance", false}} {
			for i, t := range v.list(g.key) {
				raw := wrapManifest("", "", `,"provenance":`+string(t["provenance"]))
				r.add(g.key+"/"+caseName(t, i), t.valid(g.valid), parseResult(raw), nil, "")
			}
		}
	case "duplicate-artifact-paths.json", "required-fields.json":
		for i, t := range v.list("tests") {
			in, err := rawInput(t, "input")
			if err != nil {
				return err
			}
			r.add(caseName(t, i), t.valid(true), parseResult(in), nil, expectedCode(t))
		}
	default:
		return fmt.Errorf("no handler for %s", r.name)
	}
	return nil
}

func (r *run) pathFile(v obj) error {
	for i, t := range v.list("tests") {
		if t.has("path1") {
			var want bool
			t.decode("are_equal", &want)
			eq, err := packPathsEqual(t.str("path1"), t.str("path2"))
			r.add(caseName(t, i), true, resultOf(err, map[string]any{"are_equal": eq}), map[string]any{"are_equal": want}, "")
			continue
		}
		r.add(caseName(t, i), t.valid(true), resultOf(pack.ValidatePath(t.str("path")), nil), nil, "")
	}
	return nil
}

// packPathsEqual asks the pack reader whether it treats two artifact paths as
// the same entry: a pack holding one of them (one the path rules accept) is
// asked for the other by name.
func packPathsEqual(a, b string) (bool, error) {
	stored, asked := a, b
	if pack.ValidatePath(a) != nil {
		stored, asked = b, a
	}
	arts := []pack.Artifact{artifactFor(stored, entryData)}
	zb := ziptest.Build(ziptest.File("manifest.json", manifestFor(arts)), ziptest.Dir("artifacts/"), ziptest.File(stored, entryData))
	p, err := pack.OpenReaderAt(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		return false, fmt.Errorf("a pack holding %q does not open: %w", stored, err)
	}
	defer p.Close()
	got, err := p.ReadArtifact(asked)
	return err == nil && bytes.Equal(got, entryData), nil
}
