package pack

import (
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
)

// validateBundle checks the structure of a Sigstore bundle (no cryptography):
// a JSON object whose mediaType is the v0.3 bundle type, with non-null
// verificationMaterial and dsseEnvelope objects.
func validateBundle(raw []byte) error {
	v, err := jcs.Parse(raw)
	if err != nil {
		return errcode.Wrap(errcode.InvalidAttestation, err, "bundle is not valid JSON")
	}
	if v.Kind != jcs.Object {
		return errcode.New(errcode.InvalidAttestation, "bundle must be a JSON object")
	}
	mt := v.Get("mediaType")
	switch {
	case mt == nil || mt.Kind == jcs.Null:
		return errcode.New(errcode.InvalidAttestation, "bundle mediaType is missing")
	case mt.Kind != jcs.String || mt.Str != SigstoreBundleMediaType:
		return errcode.New(errcode.InvalidAttestation, "bundle mediaType is not %s", SigstoreBundleMediaType)
	}
	for _, f := range []string{"verificationMaterial", "dsseEnvelope"} {
		x := v.Get(f)
		if x == nil || x.Kind == jcs.Null {
			return errcode.New(errcode.InvalidAttestation, "bundle %s is missing", f)
		}
		if x.Kind != jcs.Object {
			return errcode.New(errcode.InvalidAttestation, "bundle %s must be an object", f)
		}
	}
	return nil
}
