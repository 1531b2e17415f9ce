package sign_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sigstoretest"
	"github.com/evidencerelay/epack/pack/sign"
)

// FuzzCheckKeyless feeds arbitrary bytes as a bundle to the paths FuzzCheck
// (keys only) does not reach: a policy with a keyless identity and a
// trusted root (checkKeyless: certificate chain, SCT, transparency log),
// --insecure-skip-identity-check, and the unchecked listing of 'epack
// inspect' (sign.Describe). Never a panic; a satisfied policy only for a
// signature by the allowed signer; every error with a stable code.
//
// The seeds made here verify against this run's local Sigstore; the
// committed corpus (testdata/fuzz/FuzzCheckKeyless) holds bundles of
// another run's Sigstore, which this run's root does not trust.
func FuzzCheckKeyless(f *testing.F) {
	s := sigstoretest.New(f)
	rootPath := filepath.Join(f.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootPath, s.TrustedRootJSON(), 0o600); err != nil {
		f.Fatal(err)
	}
	tr, err := sign.LoadTrustedRoot(rootPath)
	if err != nil {
		f.Fatal(err)
	}
	keyless, err := sign.NewBundle(context.Background(), digestA, sign.Options{
		IDToken: s.Token(f, ghIssuer, ghSubject), FulcioURL: s.FulcioURL(), RekorURL: s.RekorURL(),
	})
	if err != nil {
		f.Fatal(err)
	}
	keyed, pub := keyBundle(f, digestA)
	identity := sign.Policy{
		Keys:        []*sign.PublicKey{pub},
		Identities:  []sign.Identity{{Issuer: ghIssuer, Subject: ghSubject}},
		TrustedRoot: tr,
	}
	// The seeds do what they should before fuzzing starts.
	if err := sign.Check(digestA, map[string][]byte{keyless.Entry: keyless.JSON}, identity).Err(); err != nil {
		f.Fatalf("keyless seed: %v", err)
	}
	if err := sign.Check(digestA, map[string][]byte{keyed.Entry: keyed.JSON}, identity).Err(); err != nil {
		f.Fatalf("key seed: %v", err)
	}
	f.Add(keyless.JSON)
	f.Add(keyed.JSON)
	f.Add(bytes.Replace(keyless.JSON, []byte(`"tlogEntries"`), []byte(`"tlogEntriez"`), 1))

	const entry = "attestations/f.sigstore.json"
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, pol := range []sign.Policy{identity, {AnyIdentity: true, TrustedRoot: tr}} {
			rep := sign.Check(digestA, map[string][]byte{entry: raw}, pol)
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures reported for one bundle", len(rep.Signatures))
			}
			sig := rep.Signatures[0]
			switch {
			case sig.Allowed && sig.Kind == "keyless" && !pol.AnyIdentity && (sig.Issuer != ghIssuer || sig.Subject != ghSubject):
				t.Fatalf("allowed a keyless signature by %s (issuer %s)", sig.Subject, sig.Issuer)
			case sig.Allowed && sig.Kind == "key" && sig.KeyID != pub.ID:
				t.Fatalf("allowed a key signature by key %s", sig.KeyID)
			case sig.Allowed && sig.Kind != "key" && sig.Kind != "keyless":
				t.Fatalf("allowed a signature of kind %q", sig.Kind)
			case sig.Allowed != (rep.Err() == nil):
				t.Fatalf("allowed %v but report error %v", sig.Allowed, rep.Err())
			case !sig.Allowed && (sig.Error == "" || sig.Code == ""):
				t.Fatalf("refused without an error and code: %+v", sig)
			case sig.Allowed && sig.Code != "":
				t.Fatalf("allowed with code %s", sig.Code)
			}
			if err := rep.Err(); err != nil && errcode.Of(err) == "" {
				t.Fatalf("report error without a code: %v", err)
			}
		}
		d := sign.Describe(entry, raw)
		if d.Verified || d.Allowed {
			t.Fatalf("Describe trusted a bundle: %+v", d)
		}
		if (d.Error == "") != (d.Code == "") {
			t.Fatalf("Describe: error %q with code %q", d.Error, d.Code)
		}
		if d.Kind != "key" && d.Kind != "keyless" && d.Kind != "unknown" {
			t.Fatalf("Describe: kind %q", d.Kind)
		}
	})
}
