package sourceinstall

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
)

// GitHubActionsIssuer is the OIDC issuer of GitHub Actions workflow tokens.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// EnvTrustedRoot names a Sigstore trusted_root.json used instead of fetching
// the public-good root through TUF (air-gapped machines).
const EnvTrustedRoot = "EPACK_SIGSTORE_TRUSTED_ROOT"

// Identity is what a release bundle's certificate must name.
type Identity struct {
	Issuer              string // GitHubActionsIssuer
	SourceRepositoryURI string // https://github.com/<owner>/<repo>
	SourceRepositoryRef string // refs/tags/<tag>
}

// IdentityFor returns the identity required for src's release tag.
func IdentityFor(src Source, tag string) Identity {
	return Identity{Issuer: GitHubActionsIssuer, SourceRepositoryURI: src.RepositoryURI(), SourceRepositoryRef: "refs/tags/" + tag}
}

// Signer is the verified identity of a bundle's certificate.
type Signer struct {
	Issuer              string `json:"issuer"`
	Subject             string `json:"subject"` // the certificate SAN (workflow URI)
	SourceRepositoryURI string `json:"source_repository_uri"`
	SourceRepositoryRef string `json:"source_repository_ref"`
	SourceCommit        string `json:"source_commit,omitempty"` // SourceRepositoryDigest, when present
}

// Lock converts s to its lockfile form.
func (s Signer) Lock() *config.LockSigner {
	return &config.LockSigner{Issuer: s.Issuer, Subject: s.Subject, SourceRepositoryURI: s.SourceRepositoryURI, SourceRepositoryRef: s.SourceRepositoryRef}
}

// Verifier checks a Sigstore bundle for an artifact digest and identity.
type Verifier interface {
	// Verify checks bundleJSON against the artifact's "sha256:<hex>" digest
	// and the identity, returning the verified signer. Errors are
	// SignatureInvalid (bad or unrelated bundle) or IdentityMismatch.
	Verify(bundleJSON []byte, digest string, want Identity) (*Signer, error)
}

// SigstoreVerifier verifies bundles with sigstore-go.
type SigstoreVerifier struct {
	// Trusted is the trusted root (Fulcio CAs, Rekor logs, TSAs, CT logs).
	Trusted root.TrustedMaterial
	// RequireSCT requires a signed certificate timestamp from a trusted CT
	// log in the certificate (true for the public-good instance).
	RequireSCT bool
}

// NewVerifier returns a verifier for trusted material, requiring a
// transparency-log entry and an observer timestamp (log integration time or
// RFC 3161 timestamp). Tests pass the virtual Sigstore's material here.
func NewVerifier(trusted root.TrustedMaterial, requireSCT bool) *SigstoreVerifier {
	return &SigstoreVerifier{Trusted: trusted, RequireSCT: requireSCT}
}

var (
	publicGoodOnce sync.Once
	publicGood     *SigstoreVerifier
	publicGoodErr  error
)

// PublicGoodVerifier returns the production verifier: the Sigstore
// public-good trusted root, fetched and kept fresh with TUF from the
// embedded TUF root (cached under ~/.sigstore/root), or read from the file
// named by $EPACK_SIGSTORE_TRUSTED_ROOT. SCTs are required.
func PublicGoodVerifier() (*SigstoreVerifier, error) {
	publicGoodOnce.Do(func() {
		publicGood, publicGoodErr = loadPublicGood(strings.TrimSpace(os.Getenv(EnvTrustedRoot)))
	})
	return publicGood, publicGoodErr
}

// loadPublicGood reads the trusted root from path, or fetches it with TUF
// when path is empty.
func loadPublicGood(path string) (*SigstoreVerifier, error) {
	var tr *root.TrustedRoot
	var err error
	if path != "" {
		tr, err = root.NewTrustedRootFromPath(path)
	} else {
		tr, err = root.FetchTrustedRoot()
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.NetworkError, err, "loading the Sigstore public-good trusted root").
			WithHint("check network access to the Sigstore TUF repository, or set %s to a trusted_root.json", EnvTrustedRoot)
	}
	return NewVerifier(tr, true), nil
}

// lazyVerifier defers loading the public-good root until a bundle is checked.
type lazyVerifier struct{}

func (lazyVerifier) Verify(bundleJSON []byte, digest string, want Identity) (*Signer, error) {
	v, err := PublicGoodVerifier()
	if err != nil {
		return nil, err
	}
	return v.Verify(bundleJSON, digest, want)
}

// Verify implements Verifier.
func (v *SigstoreVerifier) Verify(bundleJSON []byte, digest string, want Identity) (*Signer, error) {
	if v == nil || v.Trusted == nil {
		return nil, errcode.New(errcode.Internal, "no Sigstore trusted root configured")
	}
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	raw, err := hex.DecodeString(hexDigest)
	if !ok || err != nil || len(raw) != 32 {
		return nil, errcode.New(errcode.InvalidInput, "invalid digest %q", digest)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, errcode.Wrap(errcode.SignatureInvalid, err, "invalid Sigstore bundle")
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if v.RequireSCT {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	sv, err := verify.NewVerifier(v.Trusted, opts...)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "creating Sigstore verifier")
	}
	// The issuer and tag ref are matched by sigstore-go; the SAN (the
	// workflow file, which may live in another repository for reusable
	// workflows) may be anything. The repository is compared below,
	// ignoring case as GitHub does.
	id, err := verify.NewShortCertificateIdentity(want.Issuer, "", "", ".+")
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "building certificate identity")
	}
	id.SourceRepositoryRef = want.SourceRepositoryRef
	res, err := sv.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), verify.WithCertificateIdentity(id)))
	if err != nil {
		var nm *verify.ErrNoMatchingCertificateIdentity
		if errors.As(err, &nm) {
			return nil, errcode.Wrap(errcode.IdentityMismatch, err, "Sigstore bundle certificate does not match the required identity %s", want).
				WithHint("the release must be signed by %s (issuer %s)", want.SourceRepositoryURI, want.Issuer)
		}
		return nil, errcode.Wrap(errcode.SignatureInvalid, err, "Sigstore bundle does not verify")
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, errcode.New(errcode.SignatureInvalid, "Sigstore bundle has no certificate identity")
	}
	c := res.Signature.Certificate
	got := &Signer{
		Issuer: c.Extensions.Issuer, Subject: c.SubjectAlternativeName,
		SourceRepositoryURI: c.SourceRepositoryURI, SourceRepositoryRef: c.SourceRepositoryRef,
		SourceCommit: c.SourceRepositoryDigest,
	}
	if err := checkIdentity(got, want); err != nil {
		return nil, err
	}
	return got, nil
}

// checkIdentity compares a verified signer with the required identity.
func checkIdentity(got *Signer, want Identity) error {
	switch {
	case got.Issuer != want.Issuer:
		return errcode.New(errcode.IdentityMismatch, "signature issuer is %q, expected %q", got.Issuer, want.Issuer)
	case !strings.EqualFold(strings.TrimSuffix(got.SourceRepositoryURI, "/"), want.SourceRepositoryURI):
		return errcode.New(errcode.IdentityMismatch, "release was signed for repository %q, expected %q", got.SourceRepositoryURI, want.SourceRepositoryURI).
			WithHint("the binary was not built from the repository named in epack.yaml")
	case got.SourceRepositoryRef != want.SourceRepositoryRef:
		return errcode.New(errcode.IdentityMismatch, "release was signed for ref %q, expected %q", got.SourceRepositoryRef, want.SourceRepositoryRef)
	}
	return nil
}

// sameSigner reports whether a verified signer matches the one pinned in the lockfile.
func sameSigner(got *Signer, pinned *config.LockSigner) error {
	if pinned == nil {
		return nil
	}
	check := func(field, have, want string, fold bool) error {
		if want == "" {
			return nil
		}
		if have == want || (fold && strings.EqualFold(have, want)) {
			return nil
		}
		return errcode.New(errcode.IdentityMismatch, "signer %s is %q, but epack.lock.yaml pins %q", field, have, want).
			WithHint("run 'epack lock' if the release was re-signed on purpose")
	}
	for _, c := range []struct {
		field, have, want string
		fold              bool
	}{
		{"issuer", got.Issuer, pinned.Issuer, false},
		{"subject", got.Subject, pinned.Subject, false},
		{"source_repository_uri", got.SourceRepositoryURI, pinned.SourceRepositoryURI, true},
		{"source_repository_ref", got.SourceRepositoryRef, pinned.SourceRepositoryRef, false},
	} {
		if err := check(c.field, c.have, c.want, c.fold); err != nil {
			return err
		}
	}
	return nil
}

// String describes the identity for error messages.
func (i Identity) String() string {
	return fmt.Sprintf("%s %s (issuer %s)", i.SourceRepositoryURI, i.SourceRepositoryRef, i.Issuer)
}
