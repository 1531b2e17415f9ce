package sign_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sigstoretest"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/pack/sign"
)

const (
	ghIssuer  = "https://token.actions.githubusercontent.com"
	ghSubject = "https://github.com/acme/evidence/.github/workflows/release.yml@refs/heads/main"
)

func keylessSign(t *testing.T, s *sigstoretest.Sigstore, fulcioURL, token string) (*sign.Signed, error) {
	t.Helper()
	path := buildPack(t)
	return sign.SignFile(context.Background(), path, sign.Options{IDToken: token, FulcioURL: fulcioURL, RekorURL: s.RekorURL()}, false)
}

func TestKeylessSignThenVerify(t *testing.T) {
	t.Parallel()
	s := sigstoretest.New(t)
	trusted := s.TrustedRootJSON()
	tr, err := sign.LoadTrustedRoot(writeFile(t, "trusted_root.json", trusted))
	if err != nil {
		t.Fatal(err)
	}
	path := buildPack(t)
	res, err := sign.SignFile(context.Background(), path, sign.Options{IDToken: s.Token(t, ghIssuer, ghSubject), FulcioURL: s.FulcioURL(), RekorURL: s.RekorURL()}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != "keyless" || s.CountRequests("fulcio POST") != 1 || s.CountRequests("rekor POST") != 1 {
		t.Fatalf("result %+v; requests %v", res, s.Requests())
	}
	v := verified(t, path)
	cases := []struct {
		name string
		pol  sign.Policy
		code errcode.Code // "" = satisfied
	}{
		{"exact identity", sign.Policy{Identities: []sign.Identity{{Issuer: ghIssuer, Subject: ghSubject}}}, ""},
		{"subject regexp", sign.Policy{Identities: []sign.Identity{{Issuer: ghIssuer, SubjectRegexp: `^https://github\.com/acme/evidence/\.github/workflows/.+@refs/heads/main$`}}}, ""},
		{"issuer regexp", sign.Policy{Identities: []sign.Identity{{IssuerRegexp: `^https://token\.actions\.githubusercontent\.com$`, Subject: ghSubject}}}, ""},
		{"second rule matches", sign.Policy{Identities: []sign.Identity{{Issuer: ghIssuer, Subject: "https://other"}, {Issuer: ghIssuer, Subject: ghSubject}}}, ""},
		{"any identity", sign.Policy{AnyIdentity: true}, ""},
		{"wrong subject", sign.Policy{Identities: []sign.Identity{{Issuer: ghIssuer, Subject: ghSubject + "x"}}}, errcode.IdentityMismatch},
		{"wrong branch by regexp", sign.Policy{Identities: []sign.Identity{{Issuer: ghIssuer, SubjectRegexp: `@refs/heads/release$`}}}, errcode.IdentityMismatch},
		{"wrong issuer", sign.Policy{Identities: []sign.Identity{{Issuer: "https://accounts.google.com", Subject: ghSubject}}}, errcode.IdentityMismatch},
		{"keys only", sign.Policy{Keys: []*sign.PublicKey{mustPub(t)}}, errcode.IdentityMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.pol.TrustedRoot = tr
			rep := sign.Check(v.ManifestDigest, v.Bundles, c.pol)
			if c.code == "" {
				if err := rep.Err(); err != nil {
					t.Fatal(err)
				}
				sig := rep.Signatures[0]
				if sig.Issuer != ghIssuer || sig.Subject != ghSubject || sig.IntegratedTime == nil || sig.KeyID != res.Identity {
					t.Fatalf("signature %+v (identity %s)", sig, res.Identity)
				}
				return
			}
			testkit.WantCode(t, rep.Err(), c.code)
		})
	}
	// Another Sigstore's root does not trust this certificate or log.
	other, err := sign.LoadTrustedRoot(writeFile(t, "other.json", sigstoretest.New(t).TrustedRootJSON()))
	if err != nil {
		t.Fatal(err)
	}
	rep := sign.Check(v.ManifestDigest, v.Bundles, sign.Policy{TrustedRoot: other, Identities: []sign.Identity{{Issuer: ghIssuer, Subject: ghSubject}}})
	testkit.WantCode(t, rep.Err(), errcode.SignatureInvalid)
}

func TestKeylessHostile(t *testing.T) {
	t.Parallel()
	s := sigstoretest.New(t)
	tr, err := sign.LoadTrustedRoot(writeFile(t, "trusted_root.json", s.TrustedRootJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pol := sign.Policy{TrustedRoot: tr, Identities: []sign.Identity{{Issuer: ghIssuer, Subject: ghSubject}}}
	check := func(t *testing.T, res *sign.Signed, want string) {
		t.Helper()
		v := verified(t, res.Path)
		rep := sign.Check(v.ManifestDigest, v.Bundles, pol)
		testkit.WantCode(t, rep.Err(), errcode.SignatureInvalid)
		if !strings.Contains(rep.Signatures[0].Error, want) {
			t.Fatalf("error %q does not say %q", rep.Signatures[0].Error, want)
		}
	}
	t.Run("untrusted CA", func(t *testing.T) {
		res, err := keylessSign(t, s, s.UntrustedFulcioURL(), s.Token(t, ghIssuer, ghSubject))
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, "certificate")
	})
	t.Run("certificate expired before the log entry", func(t *testing.T) {
		s.ExpireNextCertificate()
		res, err := keylessSign(t, s, s.FulcioURL(), s.Token(t, ghIssuer, ghSubject))
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, "validity")
	})
	for _, tc := range []struct {
		name string
		k    sigstoretest.Tamper
	}{{"tampered SET", sigstoretest.TamperSET}, {"tampered integrated time", sigstoretest.TamperIntegratedTime}, {"tampered inclusion proof", sigstoretest.TamperInclusionProof}} {
		t.Run(tc.name, func(t *testing.T) {
			s.TamperNextEntry(tc.k)
			res, err := keylessSign(t, s, s.FulcioURL(), s.Token(t, ghIssuer, ghSubject))
			if err != nil {
				// sigstore-go may already refuse the log's answer while signing;
				// either way no signature is written.
				testkit.WantCode(t, err, errcode.NetworkError)
				return
			}
			check(t, res, "")
		})
	}
	t.Run("expired token", func(t *testing.T) {
		before := s.CountRequests("fulcio")
		_, err := keylessSign(t, s, s.FulcioURL(), s.ExpiredToken(t, ghIssuer, ghSubject))
		testkit.WantCode(t, err, errcode.AuthRequired)
		if s.CountRequests("fulcio") != before {
			t.Fatal("an expired token was sent to Fulcio")
		}
	})
	t.Run("no tlog refused for keyless", func(t *testing.T) {
		_, err := sign.SignFile(context.Background(), buildPack(t), sign.Options{IDToken: s.Token(t, ghIssuer, ghSubject), FulcioURL: s.FulcioURL(), NoTlog: true}, false)
		testkit.WantCode(t, err, errcode.InvalidInput)
	})
}

func mustPub(t *testing.T) *sign.PublicKey {
	t.Helper()
	_, pubPath := writeKeys(t, t.TempDir(), newKeys(t)[0], "pkcs8")
	pub, err := sign.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := writeAll(p, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeAll(p string, data []byte) error { return os.WriteFile(p, data, 0o644) }
