package pack

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d0 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func man(extra string, arts string) string {
	s := `{"spec_version":"1.0","stream":"s","generated_at":"2026-01-20T12:00:00Z","pack_digest":"` + d0 + `","sources":[]`
	if arts != "" {
		s += `,"artifacts":[` + arts + `]`
	} else {
		s += `,"artifacts":[]`
	}
	return s + extra + "}"
}

func artJSON(path, size string) string {
	return `{"type":"embedded","path":"` + path + `","digest":"` + d1 + `","size":` + size + `}`
}

func TestParseManifest(t *testing.T) {
	sp := `{"stream":"x","pack_digest":"` + d1 + `","artifacts":1}`
	bundle := `{"mediaType":"` + SigstoreBundleMediaType + `","verificationMaterial":{},"dsseEnvelope":{}}`
	tests := []struct {
		name string
		in   string
		code errcode.Code // "" = valid
	}{
		{"minimal", man("", ""), ""},
		{"one artifact", man("", artJSON("artifacts/a.json", "1")), ""},
		{"size exponent", man("", artJSON("artifacts/a.json", "1e3")), ""},
		{"size 1.5e3", man("", artJSON("artifacts/a.json", "1.5e3")), ""},
		{"size 1000.0", man("", artJSON("artifacts/a.json", "1000.0")), ""},
		{"size 1.5", man("", artJSON("artifacts/a.json", "1.5")), errcode.InvalidManifest},
		{"size negative", man("", artJSON("artifacts/a.json", "-1")), errcode.InvalidManifest},
		{"size 2^53", man("", artJSON("artifacts/a.json", "9007199254740992")), errcode.InvalidManifest},
		{"size string", man("", artJSON("artifacts/a.json", `"0"`)), errcode.InvalidJSON},
		{"size too big", man("", artJSON("artifacts/a.json", "104857601")), errcode.ArtifactTooLarge},
		{"size at limit", man("", artJSON("artifacts/a.json", "104857600")), ""},
		{"size missing", man("", `{"type":"embedded","path":"artifacts/a","digest":"`+d1+`"}`), errcode.MissingRequiredField},
		{"path missing", man("", `{"type":"embedded","digest":"`+d1+`","size":1}`), errcode.MissingRequiredField},
		{"type missing", man("", `{"path":"artifacts/a","digest":"`+d1+`","size":1}`), errcode.InvalidManifest},
		{"type reference", man("", `{"type":"external","path":"artifacts/a","digest":"`+d1+`","size":1}`), errcode.InvalidManifest},
		{"bad digest", man("", `{"type":"embedded","path":"artifacts/a","digest":"sha256:ABC","size":1}`), errcode.InvalidManifest},
		{"path outside", man("", artJSON("other/a", "1")), errcode.InvalidPath},
		{"path traversal", man("", artJSON("artifacts/../a", "1")), errcode.InvalidPath},
		{"dup path", man("", artJSON("artifacts/a", "1")+","+artJSON("artifacts/a", "2")), errcode.DuplicatePath},
		{"case dup path", man("", artJSON("artifacts/A", "1")+","+artJSON("artifacts/a", "2")), errcode.DuplicatePath},
		{"collected_at bad", man("", `{"type":"embedded","path":"artifacts/a","digest":"`+d1+`","size":1,"collected_at":"2026-01-20"}`), errcode.InvalidTimestamp},
		{"controls dup strings", man("", `{"type":"embedded","path":"artifacts/a","digest":"`+d1+`","size":1,"controls":["A","B","C","B","type"]}`), ""},
		{"unknown field", man(`,"extra":1`, ""), errcode.InvalidJSON},
		{"case variant field", man(`,"STREAM":"x"`, ""), errcode.InvalidJSON},
		{"dup key", man(`,"stream":"x"`, ""), errcode.DuplicateKeys},
		{"nested dup key", man("", `{"type":"embedded","type":"embedded","path":"artifacts/a","digest":"`+d1+`","size":1}`), errcode.DuplicateKeys},
		{"trailing data", man("", "") + "{}", errcode.InvalidJSON},
		{"not object", `["a"]`, errcode.InvalidJSON},
		{"missing spec", strings.Replace(man("", ""), `"spec_version":"1.0",`, "", 1), errcode.MissingRequiredField},
		{"missing sources", strings.Replace(man("", ""), `,"sources":[]`, "", 1), errcode.MissingRequiredField},
		{"null artifacts", strings.Replace(man("", ""), `"artifacts":[]`, `"artifacts":null`, 1), errcode.MissingRequiredField},
		{"spec 2.0", strings.Replace(man("", ""), `"1.0"`, `"2.0"`, 1), errcode.UnsupportedSpec},
		{"bad generated_at", strings.Replace(man("", ""), `2026-01-20T12:00:00Z`, `2026-01-20T12:00:00.1Z`, 1), errcode.InvalidTimestamp},
		{"bad pack_digest", strings.Replace(man("", ""), d0, "sha256:x", 1), errcode.InvalidManifest},
		{"source no name", strings.Replace(man("", ""), `"sources":[]`, `"sources":[{"version":"1"}]`, 1), errcode.MissingRequiredField},
		{"source count", strings.Replace(man("", ""), `"sources":[]`, `"sources":[{"name":"a","artifacts":3}]`, 1), ""},
		{"source list", strings.Replace(man("", ""), `"sources":[]`, `"sources":[{"name":"a","version":"","artifacts":["artifacts/x"]}]`, 1), ""},
		{"source count fractional", strings.Replace(man("", ""), `"sources":[]`, `"sources":[{"name":"a","artifacts":1.5}]`, 1), errcode.InvalidManifest},
		{"provenance single", man(`,"provenance":{"type":"single"}`, ""), ""},
		{"provenance merged", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[`+sp+`]}`, ""), ""},
		{"provenance merged no at", man(`,"provenance":{"type":"merged","source_packs":[`+sp+`]}`, ""), errcode.MissingRequiredField},
		{"provenance merged empty", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[]}`, ""), errcode.MissingRequiredField},
		{"provenance unknown", man(`,"provenance":{"type":"other"}`, ""), errcode.InvalidManifest},
		{"provenance no type", man(`,"provenance":{}`, ""), errcode.MissingRequiredField},
		{"source pack upper md", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`","manifest_digest":"`+strings.Repeat("A", 64)+`","artifacts":1}]}`, ""), errcode.InvalidManifest},
		{"source pack no artifacts", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`"}]}`, ""), errcode.MissingRequiredField},
		{"bundle ok", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`","artifacts":1,"embedded_attestations":[`+bundle+`]}]}`, ""), ""},
		{"bundle bad media", man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`","artifacts":1,"embedded_attestations":[{"mediaType":"x","verificationMaterial":{},"dsseEnvelope":{}}]}]}`, ""), errcode.InvalidManifest},
		{"profiles ok", man(`,"profiles":[{"source":"p"}],"overlays":[{"source":"o","digest":"`+d1+`"}]`, ""), ""},
		{"profile no source", man(`,"profiles":[{"digest":"`+d1+`"}]`, ""), errcode.MissingRequiredField},
		{"overlay bad digest", man(`,"overlays":[{"source":"o","digest":"x"}]`, ""), errcode.InvalidManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestTimestamps(t *testing.T) {
	good := []string{"2024-01-15T10:30:00Z", "2024-01-15T00:00:00Z", "2024-01-15T23:59:59Z", "2024-02-29T12:00:00Z", "2000-02-29T00:00:00Z", "1970-01-01T00:00:00Z"}
	bad := []string{"2024-01-15T10:30:00+00:00", "2024-01-15T10:30:00.5Z", "2024-01-15T10:30:00", "2024-01-15T10:30:00z",
		"2024-01-15 10:30:00Z", "2024-01-15T10:30Z", "2024-01-15T10:30:000Z", "2024-13-15T10:30:00Z", "2024-01-32T10:30:00Z",
		"2024-01-15T25:30:00Z", "2024-01-15T10:60:00Z", "2024-01-15T10:30:60Z", "2023-02-29T10:30:00Z", "1900-02-29T00:00:00Z", "", "now", "1640000000",
		"2026-1-20T12:00:00Z", "2026/01/20T12:00:00Z", "+026-01-20T12:00:00Z"}
	for _, s := range good {
		if !IsTimestamp(s) {
			t.Error("want valid", s)
		}
	}
	for _, s := range bad {
		if IsTimestamp(s) {
			t.Error("want invalid", s)
		}
	}
}

func TestPaths(t *testing.T) {
	good := []string{"artifacts/config.json", "artifacts/a/b/c.json", "artifacts/my-file_v2.0.json", "artifacts/foo..bar",
		"artifacts/UPPER.JSON", "artifacts/caf\u00e9.json", "artifacts/\ufb01le", "artifacts/config.json", "artifacts/icon.png",
		"artifacts/" + strings.Repeat("a", 80), "artifacts/.gitignore", "artifacts/__init__.py", "artifacts/_internal/x"}
	bad := []string{"", "artifacts/", "other/x", "/artifacts/x", "artifacts/../x", "artifacts/./x", "artifacts//x", `artifacts\x`,
		"artifacts/con", "artifacts/CON.txt", "artifacts/x/Lpt9/y", "artifacts/com1.dat", "artifacts/a.", "artifacts/a ", "artifacts/a\x00",
		"artifacts/a\nb", "artifacts/a\x7f", "artifacts/a\u0085", "artifacts/a:b", "artifacts/cafe\u0301", "artifacts/\u2126",
		"artifacts/" + strings.Repeat("a", 81), "artifacts/" + strings.Repeat("a/", 120) + "a", "artifacts/..x", "artifacts/\xff"}
	for _, p := range good {
		if err := validateArtifactPath(p); err != nil {
			t.Error(err)
		}
	}
	for _, p := range bad {
		if err := validateArtifactPath(p); errcode.Of(err) != errcode.InvalidPath {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"C:x", "c:/x", `C:\x`, "//server/share", "x:y"} {
		if ValidatePath(p) == nil {
			t.Error("want invalid", p)
		}
	}
	if collisionKey("artifacts/FiLe.TxT") != "artifacts/file.txt" || collisionKey("artifacts/A./b ") != "artifacts/a/b" {
		t.Error("collision key")
	}
	if !isAttestationPath("attestations/x.sigstore.json") || isAttestationPath("attestations/a/x.sigstore.json") || isAttestationPath("manifest.json") || isAttestationPath("attestations/.sigstore.json") {
		t.Error("attestation path")
	}
	for in, want := range map[string]string{"sample.epack": "sample.runs", "/p/vendor.epack": "/p/vendor.runs", "evidence": "evidence.runs",
		"data.zip": "data.zip.runs", ".epack": ".runs", "a.epack.epack": "a.epack.runs"} {
		if got := SidecarPath(in); got != want {
			t.Errorf("%s: %s", in, got)
		}
	}
}

func TestPackDigest(t *testing.T) {
	arts := []Artifact{
		{Type: "embedded", Path: "artifacts/b", Digest: d1},
		{Type: "reference", Path: "artifacts/r", Digest: d1},
		{Type: "embedded", Path: "artifacts/B", Digest: d0},
		{Type: "embedded", Path: "artifacts/a", Digest: d0},
	}
	want := "artifacts/B\t" + d0 + "\nartifacts/a\t" + d0 + "\nartifacts/b\t" + d1 + "\n"
	if string(PackDigestInput(arts)) != want {
		t.Fatalf("%q", PackDigestInput(arts))
	}
	if ComputePackDigest(nil) != d0 {
		t.Fatal("empty")
	}
	got := ComputePackDigest([]Artifact{{Type: "embedded", Path: "artifacts/test.json", Digest: d1}})
	if got != "sha256:3af35ccc5210c4cb2cdc29a4f45ee29dc64d1ad5cb3d1c3ae1290d4fb4224e94" {
		t.Fatal(got)
	}
}

func TestManifestDigestKnownAnswer(t *testing.T) {
	raw := `{"spec_version":"1.0","stream":"test/known-answer","generated_at":"2026-01-20T12:00:00Z",
	  "pack_digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","sources":[],"artifacts":[]}`
	got, err := ManifestDigest([]byte(raw))
	if err != nil || got != "sha256:0600492a0be3cbf59bb6022a85cb97327323084619f77aba35e08cf54043e4b1" {
		t.Fatal(got, err)
	}
	for _, bad := range []string{"", "  ", "[]", "null", `{"a":-1}`, `{"a":1.5}`, `{"a":1,"a":2}`} {
		if _, err := ManifestDigest([]byte(bad)); err == nil {
			t.Error("want error", bad)
		}
	}
}

func TestManifestValueLimit(t *testing.T) {
	big := strings.Repeat("0,", MaxManifestValues) + "0"
	_, err := ParseManifest([]byte(man("", `{"type":"embedded","path":"artifacts/a","digest":"`+d1+`","size":1,"controls":[`+big+`]}`)))
	wantCode(t, err, errcode.InvalidManifest)
}
