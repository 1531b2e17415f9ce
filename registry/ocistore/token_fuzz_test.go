package ocistore

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
)

// FuzzDecodePushToken: the push finalize token comes back through the host,
// so any text may arrive; decoding never panics, and a token it accepts
// writes out again as a token that decodes to the same push (and then
// writes out the same).
func FuzzDecodePushToken(f *testing.F) {
	real := encodePushToken(&pushIn{
		Target:  protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/prod"},
		FileHex: strings.Repeat("ab", 32), Size: 1234, PackDigest: "sha256:" + strings.Repeat("cd", 32),
		ManifestDigest: "sha256:" + strings.Repeat("ef", 32), Remote: "origin", ByAdapter: true,
		Release: protocol.ReleaseInfo{
			Labels: []string{"v1"}, Notes: "n", BuildContext: map[string]string{"git": "abc"}, Retain: "7y",
			Signers: []protocol.ReleaseSigner{keySigner, keylessSigner},
		},
	})
	for _, s := range []string{
		real, encodePushToken(&pushIn{}), "", "oci1.", "oci1.bm90IGpzb24", "oci1.e30", "oci1.e30=", "oci1.bnVsbA",
		"ocipull.e30", "oci1.!!!", pushTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(`{"r":{"labels":[],"build_context":{}},"s":-1}`)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, err := decodePushToken(s)
		if err != nil {
			if in != nil {
				t.Fatalf("%q: error %v with a value %+v", s, err, in)
			}
			return
		}
		tok := encodePushToken(in)
		again, err := decodePushToken(tok)
		if err != nil {
			t.Fatalf("%q decoded to %+v, written again as %q, which does not decode: %v", s, in, tok, err)
		}
		// JSON does not keep an empty list or map apart from none: compare
		// what the token says, then the values once written.
		if tok2 := encodePushToken(again); tok2 != tok {
			t.Fatalf("%q: written again %q, then %q", s, tok, tok2)
		}
		if third, _ := decodePushToken(encodePushToken(again)); !reflect.DeepEqual(third, again) {
			t.Fatalf("%q: %+v decoded again as %+v", s, again, third)
		}
	})
}

// FuzzDecodePullToken: the pull finalize token comes back through the host;
// decoding never panics, and a token it accepts encodes again to one that
// decodes to the same value.
func FuzzDecodePullToken(f *testing.F) {
	for _, s := range []string{
		pullToken{Digest: "sha256:" + strings.Repeat("ab", 32), ReleaseID: "rel-1", Staged: "stage/abc"}.encode(),
		pullToken{Digest: "sha256:" + strings.Repeat("ab", 32)}.encode(), pullToken{}.encode(),
		"", "ocipull.", "ocipull.e30", "ocipull.bnVsbA", "ocipull.W10", "oci1.e30", "ocipull.!!", "ocipull.eyJkIjoxfQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodePullToken(s)
		if err != nil {
			return
		}
		again, err := decodePullToken(tok.encode())
		if err != nil || again != tok {
			t.Fatalf("%q decoded to %+v, encoded again as %q, which decodes to %+v, %v", s, tok, tok.encode(), again, err)
		}
	})
}
