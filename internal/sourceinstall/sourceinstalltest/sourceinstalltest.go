// Package sourceinstalltest provides test doubles for source-adapter
// installs: a virtual Sigstore (sigstore-go's testing CA plus a Fulcio CA
// that issues GitHub Actions style certificates) and a fake GitHub releases
// API on a local TLS server. It is imported by tests only.
package sourceinstalltest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// ---------------------------------------------------------------------------
// A virtual Sigstore: sigstore-go's testing CA provides the Rekor log (and
// TSA/CT keys); its Fulcio cannot put GitHub's source-repository extensions
// into a certificate, so the test owns a Fulcio root and intermediate made
// with the same package and swaps them into the trusted material.

// Sigstore is a virtual Sigstore instance.
type Sigstore struct {
	vs       *ca.VirtualSigstore
	fulcio   *root.FulcioCertificateAuthority
	interKey *ecdsa.PrivateKey
}

// NewSigstore creates a virtual Sigstore with fresh keys.
func NewSigstore(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{
		vs: vs,
		fulcio: &root.FulcioCertificateAuthority{
			Root: rootCert, Intermediates: []*x509.Certificate{inter},
			ValidityPeriodStart: time.Now().Add(-time.Hour), ValidityPeriodEnd: time.Now().Add(time.Hour),
			URI: "https://fulcio.test",
		},
		interKey: interKey,
	}
}

// trustedMaterial is the virtual Sigstore's material with our Fulcio CA.
type trustedMaterial struct {
	*ca.VirtualSigstore
	fulcio []root.CertificateAuthority
}

func (m *trustedMaterial) FulcioCertificateAuthorities() []root.CertificateAuthority { return m.fulcio }

// TrustedMaterial is the trusted root to inject into the verifier.
func (s *Sigstore) TrustedMaterial() root.TrustedMaterial {
	return &trustedMaterial{VirtualSigstore: s.vs, fulcio: []root.CertificateAuthority{s.fulcio}}
}

// CertID is what the signing certificate says.
type CertID struct {
	Issuer, SAN, RepoURI, Ref, Commit string
}

// GitHubID is the identity GitHub Actions gives a release workflow of
// owner/repo running for tag.
func GitHubID(owner, repo, tag string) CertID {
	return CertID{
		Issuer:  GitHubActionsIssuer,
		SAN:     fmt.Sprintf("https://github.com/%s/%s/.github/workflows/release.yml@refs/tags/%s", owner, repo, tag),
		RepoURI: "https://github.com/" + owner + "/" + repo,
		Ref:     "refs/tags/" + tag,
	}
}

var (
	oidIssuerV2   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidSrcRepoURI = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}
	oidSrcRepoSHA = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 13}
	oidSrcRepoRef = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 14}
)

type certProvider struct {
	s  *Sigstore
	id CertID
}

func (p certProvider) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	san, err := url.Parse(p.id.SAN)
	if err != nil {
		return nil, err
	}
	var exts []pkix.Extension
	for _, e := range []struct {
		oid asn1.ObjectIdentifier
		val string
	}{{oidIssuerV2, p.id.Issuer}, {oidSrcRepoURI, p.id.RepoURI}, {oidSrcRepoRef, p.id.Ref}, {oidSrcRepoSHA, p.id.Commit}} {
		if e.val == "" {
			continue
		}
		v, err := asn1.MarshalWithParams(e.val, "utf8")
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: e.oid, Value: v})
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		URIs:            []*url.URL{san},
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(10 * time.Minute),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, p.s.fulcio.Intermediates[0], kp.GetPublicKey(), p.s.interKey)
}

// rekor puts a DSSE entry for the bundle into the virtual Rekor log, with
// an inclusion proof and a signed entry timestamp.
type rekor struct{ s *Sigstore }

func (r rekor) GetTransparencyLogEntry(_ context.Context, certPEM []byte, b *protobundle.Bundle) error {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	if ms := b.GetMessageSignature(); ms != nil {
		return r.logHashedRekord(certPEM, ms.GetMessageDigest().GetDigest(), ms.GetSignature(), b)
	}
	env := b.GetDsseEnvelope()
	if env == nil || len(env.Signatures) != 1 {
		return errors.New("test rekor logs DSSE envelopes and message signatures only")
	}
	sig := env.Signatures[0].Sig
	e := &dsse.Envelope{
		PayloadType: env.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(env.Payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	now := time.Now().Unix()
	entry, err := r.s.vs.GenerateTlogEntry(cert, e, sig, now, true)
	if err != nil {
		return err
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := r.s.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		return err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return nil
}

// logHashedRekord logs a hashedrekord entry (what `cosign sign-blob`
// produces) with an inclusion proof and a signed entry timestamp.
func (r rekor) logHashedRekord(certPEM, digest, sig []byte, b *protobundle.Bundle) error {
	ctx := context.Background()
	pe, err := types.NewProposedEntry(ctx, hashedrekord.KIND, "0.0.1", types.ArtifactProperties{
		PublicKeyBytes: [][]byte{certPEM}, PKIFormat: string(pki.X509),
		ArtifactHash: hex.EncodeToString(digest), SignatureBytes: sig,
	})
	if err != nil {
		return err
	}
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		return err
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return err
	}
	var logID string
	for id := range r.s.vs.RekorLogs() {
		logID = id
	}
	rawID, err := hex.DecodeString(logID)
	if err != nil {
		return err
	}
	proof, err := r.s.vs.GetInclusionProof(body)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	entry, err := tlog.NewEntry(body, now, *proof.LogIndex, rawID, nil, proof) //nolint:staticcheck // Rekor v1 entry
	if err != nil {
		return err
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: hashedrekord.KIND, Version: "0.0.1"}
	set, err := r.s.vs.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: now, LogIndex: tle.LogIndex, LogID: logID,
	})
	if err != nil {
		return err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return nil
}

// SignBlob returns a Sigstore bundle with a plain message signature over
// data (the `cosign sign-blob --bundle` form), with a certificate for id.
func (s *Sigstore) SignBlob(t testing.TB, data []byte, id CertID) []byte {
	t.Helper()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Bundle(&sign.PlainData{Data: data}, kp, sign.BundleOptions{
		CertificateProvider: certProvider{s: s, id: id},
		TransparencyLogs:    []sign.Transparency{rekor{s: s}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SignAsset returns a Sigstore bundle (JSON) attesting sha256(data) as asset
// name, with a certificate for id.
func (s *Sigstore) SignAsset(t testing.TB, name string, data []byte, id CertID) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": name, "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate":     map[string]any{"buildDefinition": map[string]any{"buildType": "test"}},
	})
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: stmt, PayloadType: "application/vnd.in-toto+json"}, kp, sign.BundleOptions{
		CertificateProvider: certProvider{s: s, id: id},
		TransparencyLogs:    []sign.Transparency{rekor{s: s}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// A fake GitHub releases API on a local TLS server.

// Release is one release of the fake repository; Assets maps names to bytes.
type Release struct {
	Tag        string
	Draft      bool
	Prerelease bool
	Assets     map[string][]byte
	// Digests are reported as the assets' "digest" fields (GitHub's own
	// "sha256:<hex>"); assets missing here have none.
	Digests map[string]string
}

// GitHub answers like the GitHub REST API for one repository's releases
// (two releases a page) and serves the assets.
type GitHub struct {
	srv      *httptest.Server
	owner    string
	repo     string
	pageSize int

	mu        sync.Mutex
	releases  []*Release
	commits   map[string]string
	limited   int    // answer this many API requests with a rate limit first
	limitKind string // "remaining" (403 + X-RateLimit-Remaining: 0) or "retry-after" (429)
	requests  []string
	authSeen  []string
}

// NewGitHub starts the server on 127.0.0.1; it stops when the test ends.
func NewGitHub(t testing.TB, owner, repo string) *GitHub {
	f := &GitHub{owner: owner, repo: repo, pageSize: 2, commits: map[string]string{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.StartTLS() // listens on 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the API base URL (https://127.0.0.1:port).
func (f *GitHub) URL() string { return f.srv.URL }

// HTTPClient trusts the server's certificate.
func (f *GitHub) HTTPClient() *http.Client { return f.srv.Client() }

// Commit returns the commit SHA of tag.
func (f *GitHub) Commit(tag string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits[tag]
}

// Requests returns the paths requested so far and the Authorization
// header of each.
func (f *GitHub) Requests() (paths, auth []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...), append([]string(nil), f.authSeen...)
}

// RateLimit answers the next n requests with a rate limit: kind
// "remaining" (403, X-RateLimit-Remaining: 0, reset in 2 s) or
// "retry-after" (429, Retry-After: 1).
func (f *GitHub) RateLimit(n int, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited, f.limitKind = n, kind
}

// Add publishes a release.
func (f *GitHub) Add(r *Release) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases = append(f.releases, r)
	sum := sha256.Sum256([]byte(r.Tag))
	f.commits[r.Tag] = hex.EncodeToString(sum[:20])
}

// Release returns the release with tag, or nil.
func (f *GitHub) Release(tag string) *Release {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.releases {
		if r.Tag == tag {
			return r
		}
	}
	return nil
}

// SetAsset replaces an asset (nil data removes it).
func (f *GitHub) SetAsset(tag, name string, data []byte) {
	r := f.Release(tag)
	f.mu.Lock()
	defer f.mu.Unlock()
	if data == nil {
		delete(r.Assets, name)
		return
	}
	r.Assets[name] = data
}

func (f *GitHub) json(r *Release) map[string]any {
	var assets []map[string]any
	for name, data := range r.Assets {
		u := f.srv.URL + "/dl/" + url.PathEscape(r.Tag) + "/" + url.PathEscape(name)
		a := map[string]any{"name": name, "size": len(data), "url": u, "browser_download_url": u}
		if d, ok := r.Digests[name]; ok {
			a["digest"] = d
		}
		assets = append(assets, a)
	}
	return map[string]any{"tag_name": r.Tag, "draft": r.Draft, "prerelease": r.Prerelease, "assets": assets}
}

func (f *GitHub) serve(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, req.URL.Path)
	f.authSeen = append(f.authSeen, req.Header.Get("Authorization"))
	if f.limited > 0 {
		f.limited--
		kind := f.limitKind
		f.mu.Unlock()
		if kind == "retry-after" {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"secondary rate limit"}`, http.StatusTooManyRequests)
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(2*time.Second).Unix(), 10))
		http.Error(w, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
		return
	}
	f.mu.Unlock()

	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) == 3 && parts[0] == "dl" {
		r := f.Release(parts[1])
		f.mu.Lock()
		var data []byte
		ok := false
		if r != nil {
			data, ok = r.Assets[parts[2]]
		}
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
		return
	}
	if len(parts) < 4 || parts[0] != "repos" || parts[1] != f.owner || parts[2] != f.repo {
		writeJSONStatus(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	switch {
	case len(parts) == 4 && parts[3] == "releases":
		page, _ := strconv.Atoi(req.URL.Query().Get("page"))
		if page < 1 {
			page = 1
		}
		f.mu.Lock()
		var list []map[string]any
		start := (page - 1) * f.pageSize
		for i := start; i < len(f.releases) && i < start+f.pageSize; i++ {
			list = append(list, f.json(f.releases[i]))
		}
		more := start+f.pageSize < len(f.releases)
		f.mu.Unlock()
		if more {
			w.Header().Set("Link", fmt.Sprintf(`<%s/repos/%s/%s/releases?page=%d>; rel="next"`, f.srv.URL, f.owner, f.repo, page+1))
		}
		if list == nil {
			list = []map[string]any{}
		}
		writeJSONStatus(w, http.StatusOK, list)
	case len(parts) == 6 && parts[3] == "releases" && parts[4] == "tags":
		r := f.Release(parts[5])
		if r == nil || r.Draft {
			writeJSONStatus(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		f.mu.Lock()
		body := f.json(r)
		f.mu.Unlock()
		writeJSONStatus(w, http.StatusOK, body)
	case len(parts) == 5 && parts[3] == "commits":
		f.mu.Lock()
		sha, ok := f.commits[parts[4]]
		f.mu.Unlock()
		if !ok {
			writeJSONStatus(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found"})
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]string{"sha": sha})
	default:
		writeJSONStatus(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// GitHubActionsIssuer is the OIDC issuer of GitHub Actions.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// SetDraft hides or shows a release.
func (f *GitHub) SetDraft(tag string, draft bool) {
	r := f.Release(tag)
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Draft = draft
}
