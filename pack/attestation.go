package pack

import (
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
)

// Attestation statement constants (in-toto Statement v1 over the manifest digest).
const (
	InTotoPayloadType        = "application/vnd.in-toto+json"
	InTotoStatementType      = "https://in-toto.io/Statement/v1"
	AttestationPredicateType = "https://evidencepack.org/attestation/v1"
)

// CheckAttestationStructure checks a Sigstore bundle without cryptography:
// the bundle structure (validateBundle), a DSSE envelope carrying an in-toto
// Statement v1 with the evidence-pack predicate type, exactly one subject
// named manifest.json and an object predicate. When manifestDigest is not
// empty ("sha256:<hex>" or bare hex), the subject digest must equal it.
// Signatures and certificates are NOT verified here.
func CheckAttestationStructure(bundle []byte, manifestDigest string) error {
	if err := validateBundle(bundle); err != nil {
		return err
	}
	v, _ := jcs.Parse(bundle)
	env := v.Get("dsseEnvelope")
	bad := func(format string, args ...any) error {
		return errcode.New(errcode.InvalidAttestation, format, args...)
	}
	if pt := env.Get("payloadType"); pt == nil || pt.Kind != jcs.String || pt.Str != InTotoPayloadType {
		return bad("dsseEnvelope.payloadType must be %s", InTotoPayloadType)
	}
	pl := env.Get("payload")
	if pl == nil || pl.Kind != jcs.String {
		return bad("dsseEnvelope.payload is missing")
	}
	raw, err := base64.StdEncoding.DecodeString(pl.Str)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(pl.Str); err != nil {
			return bad("dsseEnvelope.payload is not base64")
		}
	}
	st, err := jcs.Parse(raw)
	if err != nil || st.Kind != jcs.Object {
		return bad("attestation payload is not a JSON object")
	}
	str := func(x *jcs.Value) string {
		if x == nil || x.Kind != jcs.String {
			return ""
		}
		return x.Str
	}
	if t := str(st.Get("_type")); t != InTotoStatementType {
		return bad("statement _type %q is not %s", t, InTotoStatementType)
	}
	if pt := str(st.Get("predicateType")); pt != AttestationPredicateType {
		return bad("predicateType %q is not %s", pt, AttestationPredicateType)
	}
	if p := st.Get("predicate"); p == nil || p.Kind != jcs.Object {
		return bad("predicate must be an object")
	}
	subj := st.Get("subject")
	if subj == nil || subj.Kind != jcs.Array || len(subj.Items) != 1 {
		return bad("statement must have exactly one subject")
	}
	s := &subj.Items[0]
	if s.Kind != jcs.Object || str(s.Get("name")) != "manifest.json" {
		return bad("subject must be named manifest.json")
	}
	d := s.Get("digest")
	var hexd string
	if d != nil && d.Kind == jcs.Object {
		hexd = str(d.Get("sha256"))
	}
	if !isHex64(hexd) {
		return bad("subject digest.sha256 must be 64 lowercase hex")
	}
	if manifestDigest != "" {
		want := strings.TrimPrefix(manifestDigest, "sha256:")
		if subtle.ConstantTimeCompare([]byte(want), []byte(hexd)) != 1 {
			return errcode.New(errcode.DigestMismatch, "attestation subject digest does not match the manifest digest")
		}
	}
	return nil
}
