package conformance

import (
	"encoding/base64"
	"encoding/json"
	"path"

	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// bundleWith returns a structurally complete bundle carrying statement.
func bundleWith(statement any) []byte {
	st, _ := json.Marshal(statement)
	b, _ := json.Marshal(map[string]any{
		"mediaType":            pack.SigstoreBundleMediaType,
		"verificationMaterial": map[string]any{"certificate": map[string]any{"rawBytes": ""}},
		"dsseEnvelope": map[string]any{"payloadType": pack.InTotoPayloadType,
			"payload": base64.StdEncoding.EncodeToString(st), "signatures": []any{map[string]any{"sig": ""}}},
	})
	return b
}

func statement(predicateType, subjectHex string) map[string]any {
	return map[string]any{
		"_type":         pack.InTotoStatementType,
		"subject":       []any{map[string]any{"name": "manifest.json", "digest": map[string]any{"sha256": subjectHex}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	}
}

const note = "structure only: Sigstore signatures, certificates and transparency-log entries are not verified"

func (r *run) attestationFile(v obj) error {
	switch path.Base(r.name) {
	case "attestation-placement.json":
		for i, t := range v.list("tests") {
			var names []string
			if t.has("path") {
				names = []string{t.str("path")}
			}
			var more []string
			t.decode("attestations", &more)
			names = append(names, more...)
			var es []ziptest.Entry
			for _, n := range names {
				es = append(es, ziptest.File(n, bundleWith(statement(pack.AttestationPredicateType, "00"))))
			}
			r.add(caseName(t, i), t.valid(true), openResult(packWith(es...)), nil, "")
		}
	case "verification-process.json":
		for _, step := range v.list("verification_steps") {
			for i, t := range step.list("tests") {
				var res Result
				switch {
				case t.has("predicateType"):
					b := bundleWith(statement(t.str("predicateType"), emptyDigest[7:]))
					res = resultOf(pack.CheckAttestationStructure(b, ""), nil)
				case t.has("subject_digest"):
					b := bundleWith(statement(pack.AttestationPredicateType, t.str("subject_digest")))
					res = resultOf(pack.CheckAttestationStructure(b, t.str("computed_manifest_digest")), nil)
				default:
					continue
				}
				res.Computed = map[string]any{"note": note}
				r.add(step.str("name")+"/"+caseName(t, i), t.valid(true), res, nil, "")
			}
		}
	default:
		cases := v.list("cases")
		if len(cases) == 0 {
			cases = []obj{v}
		}
		for i, t := range cases {
			name := ""
			if len(v.list("cases")) > 0 {
				name = caseName(t, i)
			}
			res := resultOf(pack.CheckAttestationStructure(t.obj("input")["bundle"], ""), map[string]any{"note": note})
			r.add(name, t.valid(true), res, nil, "")
		}
	}
	return nil
}
