package sign

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
)

// Identity is one allowed keyless signer: the certificate's OIDC issuer and
// subject (SAN), each given exactly or as a regular expression (matched
// unanchored, as Sigstore's tools do: anchor with ^ and $).
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegexp  string `json:"issuer_regexp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subject_regexp,omitempty"`
}

func (id Identity) String() string {
	iss := id.Issuer
	if iss == "" && id.IssuerRegexp != "" {
		iss = "~" + id.IssuerRegexp
	}
	sub := id.Subject
	if sub == "" && id.SubjectRegexp != "" {
		sub = "~" + id.SubjectRegexp
	}
	return fmt.Sprintf("issuer %s, subject %s", firstNonEmpty(iss, "(any)"), firstNonEmpty(sub, "(any)"))
}

// compiled is an Identity ready to match.
type compiled struct {
	id           Identity
	issRe, subRe *regexp.Regexp
}

func (c compiled) match(issuer, subject string) bool {
	switch {
	case c.id.Issuer != "" && c.id.Issuer != issuer:
		return false
	case c.issRe != nil && !c.issRe.MatchString(issuer):
		return false
	case c.id.Subject != "" && c.id.Subject != subject:
		return false
	case c.subRe != nil && !c.subRe.MatchString(subject):
		return false
	}
	return true
}

// Policy says which signatures count. A pack satisfies it when at least one
// of its signatures verifies and is allowed: made by one of Keys, or a
// keyless signature whose certificate matches one of Identities (any
// certificate with AnyIdentity).
type Policy struct {
	Keys       []*PublicKey
	Identities []Identity
	// AnyIdentity accepts any cryptographically valid keyless signature
	// (--insecure-skip-identity-check).
	AnyIdentity bool
	// TrustedRoot checks keyless signatures. When nil, LoadTrustedRoot is
	// called the first time a keyless signature is met.
	TrustedRoot     root.TrustedMaterial
	LoadTrustedRoot func() (root.TrustedMaterial, error)
}

// IsZero reports whether the policy allows nothing (no policy was given).
func (p *Policy) IsZero() bool {
	return p == nil || (len(p.Keys) == 0 && len(p.Identities) == 0 && !p.AnyIdentity)
}

// Validate checks the policy's regular expressions and that each identity
// says something.
func (p *Policy) Validate() error {
	_, err := p.compile()
	return err
}

func (p *Policy) compile() ([]compiled, error) {
	var out []compiled
	for _, id := range p.Identities {
		if id.Issuer == "" && id.IssuerRegexp == "" {
			return nil, errcode.New(errcode.InvalidInput, "identity rule %s names no issuer", id).
				WithHint("give --issuer (or --issuer-regexp) with --subject")
		}
		if id.Subject == "" && id.SubjectRegexp == "" {
			return nil, errcode.New(errcode.InvalidInput, "identity rule %s names no subject", id).
				WithHint("give --subject or --subject-regexp, or --insecure-skip-identity-check")
		}
		c := compiled{id: id}
		var err error
		if id.IssuerRegexp != "" {
			if c.issRe, err = regexp.Compile(id.IssuerRegexp); err != nil {
				return nil, errcode.Wrap(errcode.InvalidInput, err, "issuer regexp %q", id.IssuerRegexp)
			}
		}
		if id.SubjectRegexp != "" {
			if c.subRe, err = regexp.Compile(id.SubjectRegexp); err != nil {
				return nil, errcode.Wrap(errcode.InvalidInput, err, "subject regexp %q", id.SubjectRegexp)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Signature is what was found about one attestation.
type Signature struct {
	Entry string `json:"entry"`
	// Kind is "key", "keyless" or "unknown" (unreadable bundle).
	Kind string `json:"kind"`
	// Signer names who signed: the matching key's file for a key
	// signature, the certificate subject for a keyless one.
	Signer string `json:"signer,omitempty"`
	// KeyID is the hex SHA-256 of the signing public key (PKIX DER).
	KeyID   string `json:"key_id,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
	// IntegratedTime is when the transparency log recorded the signature.
	IntegratedTime *time.Time `json:"tlog_integrated_time,omitempty"`
	// Verified: the signature is cryptographically valid over this pack's
	// manifest digest. Allowed: it also satisfies the policy.
	Verified bool   `json:"verified"`
	Allowed  bool   `json:"allowed"`
	Rule     string `json:"rule,omitempty"`
	Error    string `json:"error,omitempty"`
	// Code is the stable error code (errcode) of Error, for scripts:
	// omitted when the signature counted.
	Code errcode.Code `json:"code,omitempty"`
	err  error
}

// Err is why the signature did not count (nil when Allowed).
func (s *Signature) Err() error { return s.err }

// Report is the outcome of checking a pack's signatures against a policy.
type Report struct {
	Signatures []Signature `json:"signatures"`
	// PolicyGiven is false when the check ran with an empty policy.
	PolicyGiven bool `json:"policy_given"`
}

// Satisfied reports whether at least one signature is allowed.
func (r *Report) Satisfied() bool {
	for _, s := range r.Signatures {
		if s.Allowed {
			return true
		}
	}
	return false
}

// Allowed returns the signatures that satisfied the policy.
func (r *Report) Allowed() []Signature {
	var out []Signature
	for _, s := range r.Signatures {
		if s.Allowed {
			out = append(out, s)
		}
	}
	return out
}

// Err returns nil when the policy is satisfied, and otherwise an error
// saying what each signature lacked: SignatureInvalid or IdentityMismatch
// (exit 12) when any signature could be read, InvalidAttestation or
// AttestationTooLarge (exit 2, malformed input) when every bundle is
// malformed (see malformed).
func (r *Report) Err() error {
	if r.Satisfied() {
		return nil
	}
	if len(r.Signatures) == 0 {
		return errcode.New(errcode.SignatureInvalid, "the pack is not signed").
			WithHint("sign it with 'epack sign <pack> --key <private.pem>' (or keyless in CI)")
	}
	var lines []string
	code := errcode.IdentityMismatch
	allMalformed, tooLarge := true, true
	for _, s := range r.Signatures {
		lines = append(lines, fmt.Sprintf("%s: %s", shortEntry(s.Entry), s.Error))
		c := errcode.Of(s.err)
		if c != errcode.IdentityMismatch {
			code = errcode.SignatureInvalid
		}
		if !malformed(c) {
			allMalformed = false
		}
		if c != errcode.AttestationTooLarge {
			tooLarge = false
		}
	}
	if allMalformed {
		// Malformed input (the "2 for malformed input"): no bundle
		// could even be read as a signature, so no policy could help.
		// Any bundle that is a readable signature keeps exit 12 above.
		mc := errcode.InvalidAttestation
		if tooLarge {
			mc = errcode.AttestationTooLarge
		}
		return errcode.New(mc, "no signature could be read, every attestation is malformed:\n  %s", strings.Join(lines, "\n  ")).
			WithHint("the attestations are not Sigstore bundles as 'epack sign' writes them (COMPAT §10.3); sign the pack again")
	}
	e := errcode.New(code, "no signature satisfies the signer policy:\n  %s", strings.Join(lines, "\n  "))
	if !r.PolicyGiven {
		e = errcode.New(errcode.IdentityMismatch, "the pack has %d signature(s) but no signer policy was given", len(r.Signatures)).
			WithHint("name the signer: --key <public.pem>, or --issuer and --subject for keyless signatures (or --integrity-only to check digests only)")
	}
	return e
}

// malformed reports whether a signature's error code says its bundle is
// malformed input (not JSON, wrong media type, no envelope, a statement not
// in the COMPAT §10.3 form, too large) rather than a signature that does not
// verify or is not allowed.
func malformed(c errcode.Code) bool {
	return c == errcode.InvalidAttestation || c == errcode.AttestationTooLarge
}

func shortEntry(e string) string {
	e = strings.TrimPrefix(e, "attestations/")
	if len(e) > 12+len(".sigstore.json") {
		return e[:12] + "…"
	}
	return e
}

// Check verifies every bundle (entry name → bytes, as pack.Verified.Bundles
// holds them) against manifestDigest and the policy. It never stops at
// the first failure: every signature gets a line in the report.
func Check(manifestDigest string, bundles map[string][]byte, p Policy) *Report {
	r := &Report{PolicyGiven: !p.IsZero(), Signatures: []Signature{}}
	rules, rerr := p.compile()
	names := make([]string, 0, len(bundles))
	for n := range bundles {
		names = append(names, n)
	}
	sort.Strings(names)
	tr := &lazyRoot{p: p}
	for _, n := range names {
		s := checkOne(n, bundles[n], manifestDigest, &p, rules, tr)
		if rerr != nil && s.err == nil && s.Kind == "keyless" {
			s.Allowed, s.err = false, rerr
		}
		if s.err != nil {
			s.Error, s.Code = errText(s.err), codeOf(s.err)
		}
		r.Signatures = append(r.Signatures, s)
	}
	return r
}

// codeOf is the stable code of a signature's error; an error without one
// (none is expected) is reported as signature_invalid, so Code is never
// empty beside an Error.
func codeOf(err error) errcode.Code {
	if c := errcode.Of(err); c != "" {
		return c
	}
	return errcode.SignatureInvalid
}

func errText(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

type lazyRoot struct {
	p    Policy
	once sync.Once
	tm   root.TrustedMaterial
	err  error
}

func (l *lazyRoot) get() (root.TrustedMaterial, error) {
	l.once.Do(func() {
		switch {
		case l.p.TrustedRoot != nil:
			l.tm = l.p.TrustedRoot
		case l.p.LoadTrustedRoot != nil:
			l.tm, l.err = l.p.LoadTrustedRoot()
		default:
			l.err = errcode.New(errcode.SignatureInvalid, "no Sigstore trusted root to check keyless signatures").
				WithHint("give --trust-root <trusted_root.json>")
		}
	})
	return l.tm, l.err
}

func checkOne(name string, raw []byte, manifestDigest string, p *Policy, rules []compiled, tr *lazyRoot) Signature {
	s := Signature{Entry: name, Kind: "unknown"}
	if len(raw) > pack.MaxAttestationSize {
		s.err = errcode.New(errcode.AttestationTooLarge, "bundle is %d bytes (limit %d)", len(raw), pack.MaxAttestationSize)
		return s
	}
	if err := pack.CheckAttestationStructure(raw, manifestDigest); err != nil {
		if errcode.Has(err, errcode.DigestMismatch) {
			err = errcode.New(errcode.SignatureInvalid, "the signed statement is for another manifest (not this pack)")
		}
		s.err = err
		return s
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		s.err = errcode.Wrap(errcode.InvalidAttestation, err, "malformed Sigstore bundle: %v", err)
		return s
	}
	digest, err := hexDigest(manifestDigest)
	if err != nil {
		s.err = err
		return s
	}
	vc, err := b.VerificationContent()
	if err != nil {
		s.err = errcode.Wrap(errcode.InvalidAttestation, err, "bundle verification material: %v", err)
		return s
	}
	artifact := verify.WithArtifactDigest("sha256", digest)
	if vc.Certificate() == nil {
		s.Kind = "key"
		checkKeySigned(&s, &b, artifact, p)
		return s
	}
	s.Kind = "keyless"
	if id, err := KeyID(vc.Certificate().PublicKey); err == nil {
		s.KeyID = id
	}
	s.Subject, s.Issuer = certSubject(vc.Certificate()), ""
	checkKeyless(&s, &b, artifact, p, rules, tr)
	return s
}

func checkKeySigned(s *Signature, b *bundle.Bundle, artifact verify.ArtifactPolicyOption, p *Policy) {
	if len(p.Keys) == 0 {
		s.err = errcode.New(errcode.SignatureInvalid, "key-signed, and no public key was given to check it").
			WithHint("give --key <public.pem>")
		return
	}
	var tried []string
	for _, k := range keysFor(s.Entry, p.Keys) {
		v, err := signature.LoadVerifierFromAlgorithmDetails(k.Key, mustAlg(k))
		if err != nil {
			tried = append(tried, k.Name)
			continue
		}
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
		})
		sv, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			s.err = errcode.Wrap(errcode.Internal, err, "creating a verifier")
			return
		}
		if _, err := sv.Verify(b, verify.NewPolicy(artifact, verify.WithKey())); err != nil {
			tried = append(tried, k.Name)
			continue
		}
		s.Verified, s.Allowed, s.Signer, s.KeyID, s.Rule = true, true, k.Name, k.ID, "key "+k.Name
		return
	}
	s.err = errcode.New(errcode.SignatureInvalid, "signature does not verify with any given key (%s)", strings.Join(tried, ", "))
}

// keysFor puts first the key whose entry name this is (signers name their
// entry after their key), so a pack with many signatures costs one
// signature check each instead of one per key.
func keysFor(entry string, keys []*PublicKey) []*PublicKey {
	out := make([]*PublicKey, 0, len(keys))
	for _, k := range keys {
		if EntryName(k.ID) == entry {
			out = append(out, k)
		}
	}
	for _, k := range keys {
		if EntryName(k.ID) != entry {
			out = append(out, k)
		}
	}
	return out
}

func mustAlg(k *PublicKey) signature.AlgorithmDetails {
	a, _ := algorithmFor(k.Key) // LoadPublicKey already checked it
	return a
}

func checkKeyless(s *Signature, b *bundle.Bundle, artifact verify.ArtifactPolicyOption, p *Policy, rules []compiled, tr *lazyRoot) {
	if len(rules) == 0 && !p.AnyIdentity && len(p.Keys) > 0 {
		// Only keys are allowed: say so without loading a trusted root.
		s.err = errcode.New(errcode.IdentityMismatch, "keyless signature by %s, and the policy allows only keys", firstNonEmpty(s.Subject, "an unknown subject"))
		return
	}
	tm, err := tr.get()
	if err != nil {
		s.err = err
		return
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if len(tm.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	sv, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		s.err = errcode.Wrap(errcode.Internal, err, "creating a verifier")
		return
	}
	res, err := sv.Verify(b, verify.NewPolicy(artifact, verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		s.err = errcode.Wrap(errcode.SignatureInvalid, err, "keyless signature does not verify: %v", err)
		return
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		s.err = errcode.New(errcode.SignatureInvalid, "keyless signature has no certificate identity")
		return
	}
	c := res.Signature.Certificate
	s.Verified, s.Issuer, s.Subject, s.Signer = true, c.Extensions.Issuer, c.SubjectAlternativeName, c.SubjectAlternativeName
	for _, ts := range res.VerifiedTimestamps {
		if ts.Type == "Tlog" {
			t := ts.Timestamp.UTC()
			s.IntegratedTime = &t
			break
		}
	}
	if p.AnyIdentity {
		s.Allowed, s.Rule = true, "any identity (--insecure-skip-identity-check)"
		return
	}
	for _, r := range rules {
		if r.match(s.Issuer, s.Subject) {
			s.Allowed, s.Rule = true, r.id.String()
			return
		}
	}
	if len(rules) == 0 {
		s.err = errcode.New(errcode.IdentityMismatch, "keyless signature by %s (issuer %s), and no identity was given to check it", s.Subject, s.Issuer).
			WithHint("give --issuer and --subject (or --subject-regexp)")
		return
	}
	s.err = errcode.New(errcode.IdentityMismatch, "signed by %s (issuer %s), which the policy does not allow", s.Subject, s.Issuer)
}

// certSubject is the first SAN of a certificate (before verification, for
// messages only).
func certSubject(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	}
	return ""
}

func hexDigest(d string) ([]byte, error) {
	raw, err := decodeHex32(strings.TrimPrefix(d, "sha256:"))
	if err != nil {
		return nil, errcode.New(errcode.InvalidInput, "manifest digest %q is not a SHA-256 digest", d)
	}
	return raw, nil
}

// Signer is how receipts record a signature that satisfied a policy.
type Signer struct {
	Kind           string     `json:"kind"`
	Signer         string     `json:"signer"`
	KeyID          string     `json:"key_id,omitempty"`
	Issuer         string     `json:"issuer,omitempty"`
	Subject        string     `json:"subject,omitempty"`
	IntegratedTime *time.Time `json:"tlog_integrated_time,omitempty"`
}

// Signers returns the receipt records of sigs.
func Signers(sigs []Signature) []Signer {
	out := make([]Signer, 0, len(sigs))
	for _, s := range sigs {
		out = append(out, Signer{Kind: s.Kind, Signer: s.Signer, KeyID: s.KeyID, Issuer: s.Issuer, Subject: s.Subject, IntegratedTime: s.IntegratedTime})
	}
	return out
}

// Describe reads what a bundle claims without checking any signature (for
// 'epack inspect'): its kind and, for a keyless one, the certificate's
// subject and issuer. Nothing it returns is trusted: Verified and Allowed
// stay false.
func Describe(name string, raw []byte) Signature {
	s := Signature{Entry: name, Kind: "unknown"}
	var b bundle.Bundle
	if len(raw) > pack.MaxAttestationSize {
		s.err = errcode.New(errcode.AttestationTooLarge, "bundle is %d bytes (limit %d)", len(raw), pack.MaxAttestationSize)
	} else if err := b.UnmarshalJSON(raw); err != nil {
		s.err = errcode.Wrap(errcode.InvalidAttestation, err, "malformed Sigstore bundle: %v", err)
	} else if vc, err := b.VerificationContent(); err != nil {
		s.err = errcode.Wrap(errcode.InvalidAttestation, err, "bundle verification material: %v", err)
	} else if c := vc.Certificate(); c == nil {
		s.Kind = "key"
	} else {
		s.Kind = "keyless"
		s.Subject = certSubject(c)
		if sum, err := certificate.SummarizeCertificate(c); err == nil {
			s.Issuer = sum.Extensions.Issuer
		}
		if id, err := KeyID(c.PublicKey); err == nil {
			s.KeyID = id
		}
		s.Signer = s.Subject
	}
	if s.err != nil {
		s.Error, s.Code = errText(s.err), codeOf(s.err)
	}
	return s
}
