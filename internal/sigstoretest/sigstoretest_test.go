package sigstoretest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidencerelay/epack/internal/sigstoretest"
)

const (
	issuer  = "https://token.actions.githubusercontent.com"
	subject = "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
)

var artifact = []byte("widget v1.0.0\n")

// statement is an in-toto statement about artifact.
func statement(t *testing.T) []byte {
	t.Helper()
	sum := sha256.Sum256(artifact)
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "widget", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate":     map[string]any{"buildDefinition": map[string]any{"buildType": "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return stmt
}

func opts(s *sigstoretest.Sigstore, fulcioURL, token string) sign.BundleOptions {
	return sign.BundleOptions{
		CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcioURL}),
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: token},
		TransparencyLogs:           []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: s.RekorURL(), Version: 1})},
	}
}

// reload round-trips a bundle through its JSON form, as a file would.
func reload(t *testing.T, pb *protobundle.Bundle) *bundle.Bundle {
	t.Helper()
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return &b
}

// signDSSE signs the statement keylessly over HTTP.
func signDSSE(t *testing.T, s *sigstoretest.Sigstore, fulcioURL, token string) (*protobundle.Bundle, error) {
	t.Helper()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return sign.Bundle(&sign.DSSEData{Data: statement(t), PayloadType: "application/vnd.in-toto+json"}, kp, opts(s, fulcioURL, token))
}

func mustSign(t *testing.T, s *sigstoretest.Sigstore) *protobundle.Bundle {
	t.Helper()
	pb, err := signDSSE(t, s, s.FulcioURL(), s.Token(t, issuer, subject))
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// verifyAs verifies b against the trusted root as epack will: one tlog
// entry, one observer timestamp, the given identity.
func verifyAs(t *testing.T, trustedRoot []byte, b *bundle.Bundle, iss, san string) error {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(iss, "", san, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithCertificateIdentity(id)))
	return err
}

func TestSignAndVerifyDSSE(t *testing.T) {
	s := sigstoretest.New(t)
	b := reload(t, mustSign(t, s))
	if err := verifyAs(t, s.TrustedRootJSON(), b, issuer, subject); err != nil {
		t.Fatalf("verify: %v", err)
	}
	want := []string{"fulcio POST /api/v2/signingCert 200", "rekor POST /api/v1/log/entries 201"}
	if got := s.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
	if n := s.CountRequests("rekor POST"); n != 1 {
		t.Errorf("CountRequests(rekor POST) = %d", n)
	}

	// The certificate is what Fulcio would issue.
	vc, err := b.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	cert := vc.Certificate()
	if len(cert.URIs) != 1 || cert.URIs[0].String() != subject || len(cert.EmailAddresses) != 0 {
		t.Errorf("SANs = %v %v", cert.URIs, cert.EmailAddresses)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != 10*time.Minute || time.Since(cert.NotBefore) < 50*time.Second {
		t.Errorf("validity %s .. %s", cert.NotBefore, cert.NotAfter)
	}

	var noMatch *verify.ErrNoMatchingCertificateIdentity
	if err := verifyAs(t, s.TrustedRootJSON(), b, issuer, "https://github.com/acme/other/.github/workflows/release.yml@refs/tags/v1.0.0"); !errors.As(err, &noMatch) {
		t.Errorf("wrong subject: err = %v, want ErrNoMatchingCertificateIdentity", err)
	}
	if err := verifyAs(t, s.TrustedRootJSON(), b, "https://accounts.google.com", subject); !errors.As(err, &noMatch) {
		t.Errorf("wrong issuer: err = %v, want ErrNoMatchingCertificateIdentity", err)
	}
	if err := verifyAs(t, sigstoretest.New(t).TrustedRootJSON(), b, issuer, subject); err == nil {
		t.Error("another Sigstore's trusted root verified the bundle")
	}
}

func TestTrustedRootFile(t *testing.T) {
	s := sigstoretest.New(t)
	tr, err := root.NewTrustedRootFromPath(s.WriteTrustedRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(s.TrustedRootJSON(), &raw); err != nil || raw.MediaType != "application/vnd.dev.sigstore.trustedroot+json;version=0.1" {
		t.Errorf("mediaType %q (%v)", raw.MediaType, err)
	}
	cas := tr.FulcioCertificateAuthorities()
	if len(cas) != 1 {
		t.Fatalf("%d CAs", len(cas))
	}
	fca := cas[0].(*root.FulcioCertificateAuthority)
	if !fca.ValidityPeriodStart.Before(time.Now()) || len(fca.Intermediates) != 1 || fca.URI != s.FulcioURL() {
		t.Errorf("CA: start %s, %d intermediates, uri %q", fca.ValidityPeriodStart, len(fca.Intermediates), fca.URI)
	}
	if len(tr.RekorLogs()) != 1 || len(tr.CTLogs()) != 0 || len(tr.TimestampingAuthorities()) != 0 {
		t.Errorf("%d tlogs, %d ctlogs, %d TSAs", len(tr.RekorLogs()), len(tr.CTLogs()), len(tr.TimestampingAuthorities()))
	}

	// The log ID in entries is the trusted root's key ID for the log.
	pb := mustSign(t, s)
	logID := hex.EncodeToString(pb.VerificationMaterial.TlogEntries[0].LogId.KeyId)
	tl, ok := tr.RekorLogs()[logID]
	if !ok {
		t.Fatalf("entry log ID %s not in the trusted root", logID)
	}
	if !tl.ValidityPeriodStart.Before(time.Now()) || tl.BaseURL != s.RekorURL() {
		t.Errorf("log: start %s, url %q", tl.ValidityPeriodStart, tl.BaseURL)
	}
	if err := verifyAs(t, s.TrustedRootJSON(), reload(t, pb), issuer, subject); err != nil {
		t.Error(err)
	}
}

func TestEmailSubject(t *testing.T) {
	s := sigstoretest.New(t)
	const email = "alice@example.com"
	pb, err := signDSSE(t, s, s.FulcioURL(), s.Token(t, "https://accounts.example.com", email))
	if err != nil {
		t.Fatal(err)
	}
	b := reload(t, pb)
	vc, _ := b.VerificationContent()
	if c := vc.Certificate(); len(c.EmailAddresses) != 1 || c.EmailAddresses[0] != email || len(c.URIs) != 0 {
		t.Errorf("SANs = %v %v", c.URIs, c.EmailAddresses)
	}
	if err := verifyAs(t, s.TrustedRootJSON(), b, "https://accounts.example.com", email); err != nil {
		t.Error(err)
	}
}

func TestTwoEntries(t *testing.T) {
	s := sigstoretest.New(t)
	first, second := mustSign(t, s), mustSign(t, s)
	for i, pb := range []*protobundle.Bundle{first, second} {
		e := pb.VerificationMaterial.TlogEntries[0]
		if e.LogIndex != int64(i) || e.InclusionProof.TreeSize != int64(i+1) || e.InclusionProof.LogIndex != int64(i) {
			t.Errorf("entry %d: logIndex %d, proof %d of %d", i, e.LogIndex, e.InclusionProof.LogIndex, e.InclusionProof.TreeSize)
		}
		if err := verifyAs(t, s.TrustedRootJSON(), reload(t, pb), issuer, subject); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if s.LogSize() != 2 {
		t.Errorf("LogSize = %d", s.LogSize())
	}
}

// Submitting a logged entry again takes the 409 path: sigstore-go fetches
// the existing entry by the Location's UUID, now proven against a larger tree.
func TestConflictFetchesExisting(t *testing.T) {
	s := sigstoretest.New(t)
	pb := mustSign(t, s)
	mustSign(t, s)
	orig := pb.VerificationMaterial.TlogEntries[0]
	pb.VerificationMaterial.TlogEntries = nil
	certPEM := pemCert(pb.VerificationMaterial.GetCertificate().GetRawBytes())
	rekor := sign.NewRekor(&sign.RekorOptions{BaseURL: s.RekorURL(), Version: 1})
	if err := rekor.GetTransparencyLogEntry(context.Background(), certPEM, pb); err != nil {
		t.Fatal(err)
	}
	e := pb.VerificationMaterial.TlogEntries[0]
	if e.LogIndex != orig.LogIndex || e.IntegratedTime != orig.IntegratedTime || e.InclusionProof.TreeSize != 2 {
		t.Errorf("refetched: index %d time %d size %d; original index %d time %d", e.LogIndex, e.IntegratedTime, e.InclusionProof.TreeSize, orig.LogIndex, orig.IntegratedTime)
	}
	if err := verifyAs(t, s.TrustedRootJSON(), reload(t, pb), issuer, subject); err != nil {
		t.Error(err)
	}
	reqs := s.Requests()
	if tail := reqs[len(reqs)-2:]; tail[0] != "rekor POST /api/v1/log/entries 409" || !strings.HasPrefix(tail[1], "rekor GET /api/v1/log/entries/") || !strings.HasSuffix(tail[1], " 200") {
		t.Errorf("requests = %q", reqs)
	}
	if s.LogSize() != 2 {
		t.Errorf("LogSize = %d", s.LogSize())
	}
}

func pemCert(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE-----\n")
}

// A plain message signature is logged as hashedrekord.
func TestHashedRekord(t *testing.T) {
	s := sigstoretest.New(t)
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.PlainData{Data: artifact}, kp, opts(s, s.FulcioURL(), s.Token(t, issuer, subject)))
	if err != nil {
		t.Fatal(err)
	}
	if kv := pb.VerificationMaterial.TlogEntries[0].KindVersion; kv.Kind != "hashedrekord" || kv.Version != "0.0.1" {
		t.Errorf("kind %s/%s", kv.Kind, kv.Version)
	}
	if err := verifyAs(t, s.TrustedRootJSON(), reload(t, pb), issuer, subject); err != nil {
		t.Error(err)
	}
}

func TestHostile(t *testing.T) {
	s := sigstoretest.New(t)
	cases := []struct {
		name  string
		setup func() string // returns the Fulcio URL to use
		want  string
	}{
		{"expired certificate", func() string { s.ExpireNextCertificate(); return s.FulcioURL() }, "integrated time outside certificate validity"},
		{"untrusted CA", s.UntrustedFulcioURL, "leaf certificate verification failed"},
		{"tampered SET", func() string { s.TamperNextEntry(sigstoretest.TamperSET); return s.FulcioURL() }, "not enough verified log entries"},
		{"tampered integrated time", func() string { s.TamperNextEntry(sigstoretest.TamperIntegratedTime); return s.FulcioURL() }, "not enough verified log entries"},
		{"tampered inclusion proof", func() string { s.TamperNextEntry(sigstoretest.TamperInclusionProof); return s.FulcioURL() }, "does not match expected root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb, err := signDSSE(t, s, c.setup(), s.Token(t, issuer, subject))
			if err != nil {
				t.Fatalf("signing: %v", err)
			}
			err = verifyAs(t, s.TrustedRootJSON(), reload(t, pb), issuer, subject)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: err = %v, want one mentioning %q", err, c.want)
			}
			t.Logf("verify: %v", err)
		})
	}
	// The knobs are one-shot: the next signature verifies again.
	if err := verifyAs(t, s.TrustedRootJSON(), reload(t, mustSign(t, s)), issuer, subject); err != nil {
		t.Errorf("after the hostile cases: %v", err)
	}
	if n := s.CountRequests("untrusted-fulcio POST /api/v2/signingCert 200"); n != 1 {
		t.Errorf("untrusted Fulcio served %d certificates", n)
	}
}

func TestExpiredToken(t *testing.T) {
	s := sigstoretest.New(t)
	_, err := signDSSE(t, s, s.FulcioURL(), s.ExpiredToken(t, issuer, subject))
	if err == nil || !strings.Contains(err.Error(), "Fulcio returned 401") || !strings.Contains(err.Error(), "identity token") {
		t.Fatalf("err = %v, want Fulcio's 401", err)
	}
	if got, want := s.Requests(), []string{"fulcio POST /api/v2/signingCert 401"}; !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

// Raw requests for what sigstore-go's client never sends.
func TestFulcioRejects(t *testing.T) {
	s := sigstoretest.New(t)
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := kp.GetPublicKeyPem()
	if err != nil {
		t.Fatal(err)
	}
	pop := func(msg string) string {
		sig, _, err := kp.SignData(context.Background(), []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(sig)
	}
	post := func(token, proof string) (int, string) {
		req := map[string]any{
			"credentials":      map[string]string{"oidcIdentityToken": token},
			"publicKeyRequest": map[string]any{"publicKey": map[string]string{"algorithm": "ECDSA", "content": pubPEM}, "proofOfPossession": proof},
		}
		body, _ := json.Marshal(req)
		resp, err := http.Post(s.FulcioURL()+"/api/v2/signingCert", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	good := s.Token(t, issuer, subject)
	if code, body := post(good, pop(subject)); code != http.StatusOK || !strings.Contains(body, "signedCertificateEmbeddedSct") {
		t.Errorf("good request (token in credentials): %d %s", code, body)
	}
	if code, body := post(good, pop("someone else")); code != http.StatusBadRequest {
		t.Errorf("wrong proof of possession: %d %s", code, body)
	}
	if code, body := post(sigstoretest.New(t).Token(t, issuer, subject), pop(subject)); code != http.StatusUnauthorized || !strings.Contains(body, "identity token") {
		t.Errorf("token from another issuer key: %d %s", code, body)
	}
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x","sub":"y","aud":"sigstore","exp":9999999999}`)) + "." + parts[2]
	if code, body := post(forged, pop("y")); code != http.StatusUnauthorized {
		t.Errorf("forged claims: %d %s", code, body)
	}
	if code, body := post("", pop(subject)); code != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", code, body)
	}
}

func TestRekorRejects(t *testing.T) {
	s := sigstoretest.New(t)
	resp, err := http.Post(s.RekorURL()+"/api/v1/log/entries", "application/json",
		strings.NewReader(`{"kind":"dsse","apiVersion":"0.0.1","spec":{"proposedContent":{"envelope":"{}","verifiers":["bm9wZQ=="]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("invalid entry: %d", resp.StatusCode)
	}
	resp, err = http.Get(s.RekorURL() + "/api/v1/log/entries/" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown UUID: %d", resp.StatusCode)
	}
	if s.LogSize() != 0 {
		t.Errorf("LogSize = %d", s.LogSize())
	}
}
