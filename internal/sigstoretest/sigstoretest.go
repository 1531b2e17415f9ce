// Package sigstoretest runs a local Sigstore for tests: a fake Fulcio and a
// fake Rekor v1 that speak the real HTTP APIs on 127.0.0.1, an OIDC token
// minter the fake Fulcio trusts, and the trusted_root.json that verifies
// what they issue. Keyless signing and verification can then be tested end
// to end through a binary that only gets URLs and a trusted root path.
package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Tamper names a way to corrupt the next Rekor answer (see TamperNextEntry).
type Tamper int

const (
	// TamperSET flips a bit of the signed entry timestamp.
	TamperSET Tamper = iota + 1
	// TamperIntegratedTime moves integratedTime an hour back after the SET
	// was signed over the true value.
	TamperIntegratedTime
	// TamperInclusionProof flips a bit of the inclusion proof's root hash.
	TamperInclusionProof
)

// Sigstore is a local Sigstore: a Fulcio whose CA is in the trusted root, a
// second Fulcio whose CA is not, and a Rekor v1 log. Safe for concurrent use.
type Sigstore struct {
	t testing.TB

	fulcio, untrusted, rekor *httptest.Server
	fulcioURL, untrustedURL  string
	rekorURL, rekorHost      string

	oidcKey    *ecdsa.PrivateKey // signs the ID tokens Fulcio accepts
	ca, rogue  *certAuthority    // trusted and untrusted Fulcio CAs
	logSigner  signature.SignerVerifier
	logKeyDER  []byte // PKIX public key of the log
	logID      []byte // SHA-256 of logKeyDER, as Rekor derives it
	treeID     int64
	validFrom  time.Time // start of the trusted root's validity windows
	trustedRJS []byte

	mu         sync.Mutex
	entries    []*logEntry
	byLeaf     map[string]int // hex leaf hash → index
	requests   []string
	expireNext bool
	tamperNext Tamper
}

// New starts the servers; they stop when the test ends.
func New(t testing.TB) *Sigstore {
	t.Helper()
	now := time.Now()
	s := &Sigstore{t: t, validFrom: now.Add(-time.Hour), byLeaf: map[string]int{}}
	var err error
	if s.oidcKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if s.ca, err = newCertAuthority("sigstoretest", s.validFrom); err != nil {
		t.Fatal(err)
	}
	if s.rogue, err = newCertAuthority("sigstoretest-untrusted", s.validFrom); err != nil {
		t.Fatal(err)
	}
	logKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.logSigner, err = signature.LoadECDSASignerVerifier(logKey, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if s.logKeyDER, err = x509.MarshalPKIXPublicKey(logKey.Public()); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(s.logKeyDER)
	s.logID = sum[:]
	tid, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	s.treeID = tid.Int64() + 1

	// Listeners exist before Start, so every field the handlers read is
	// set before any handler can run.
	s.fulcio = httptest.NewUnstartedServer(s.logged("fulcio", s.fulcioHandler(s.ca)))
	s.untrusted = httptest.NewUnstartedServer(s.logged("untrusted-fulcio", s.fulcioHandler(s.rogue)))
	s.rekor = httptest.NewUnstartedServer(s.logged("rekor", http.HandlerFunc(s.rekorHandler)))
	s.fulcioURL = "http://" + s.fulcio.Listener.Addr().String()
	s.untrustedURL = "http://" + s.untrusted.Listener.Addr().String()
	s.rekorHost = s.rekor.Listener.Addr().String()
	s.rekorURL = "http://" + s.rekorHost
	if s.trustedRJS, err = s.buildTrustedRoot(); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*httptest.Server{s.fulcio, s.untrusted, s.rekor} {
		srv.Start()
		t.Cleanup(srv.Close)
	}
	return s
}

// FulcioURL is the base URL of the Fulcio whose CA the trusted root holds.
func (s *Sigstore) FulcioURL() string { return s.fulcioURL }

// UntrustedFulcioURL is a Fulcio that accepts the same tokens but issues
// from an independent CA absent from the trusted root.
func (s *Sigstore) UntrustedFulcioURL() string { return s.untrustedURL }

// RekorURL is the base URL of the Rekor v1 log.
func (s *Sigstore) RekorURL() string { return s.rekorURL }

// TrustedRootJSON is a trusted_root.json with the Fulcio CA chain and the
// Rekor key, both valid from an hour before New.
func (s *Sigstore) TrustedRootJSON() []byte { return append([]byte(nil), s.trustedRJS...) }

// WriteTrustedRoot writes TrustedRootJSON into t.TempDir() and returns its path.
func (s *Sigstore) WriteTrustedRoot(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, s.trustedRJS, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ExpireNextCertificate makes the next certificate either Fulcio issues end
// twenty minutes before it is issued, so no log time can fall inside it.
func (s *Sigstore) ExpireNextCertificate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireNext = true
}

// TamperNextEntry corrupts the next entry Rekor hands out (201 or GET); the
// log itself stays intact.
func (s *Sigstore) TamperNextEntry(how Tamper) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tamperNext = how
}

// Requests lists the requests served so far, oldest first, each as
// "<server> <method> <path> <status>", server being fulcio,
// untrusted-fulcio or rekor.
func (s *Sigstore) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// CountRequests counts the requests whose Requests line starts with prefix
// (e.g. "rekor POST").
func (s *Sigstore) CountRequests(prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// LogSize is the number of entries in the Rekor log.
func (s *Sigstore) LogSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// logged records each request in Requests once it has been answered.
func (s *Sigstore) logged(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.requests = append(s.requests, fmt.Sprintf("%s %s %s %d", name, r.Method, r.URL.Path, rec.status))
		s.mu.Unlock()
	})
}

// buildTrustedRoot writes the trusted root in its protobuf JSON form, the
// way the TUF-distributed file looks, rather than through sigstore-go types.
func (s *Sigstore) buildTrustedRoot() ([]byte, error) {
	start := timestamppb.New(s.validFrom)
	tr := &prototrustroot.TrustedRoot{
		MediaType: root.TrustedRootMediaType01,
		Tlogs: []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       s.rekorURL,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   s.logKeyDER,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor:   &protocommon.TimeRange{Start: start},
			},
			LogId: &protocommon.LogId{KeyId: s.logID},
		}},
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject: &protocommon.DistinguishedName{Organization: "sigstoretest", CommonName: "sigstoretest"},
			Uri:     s.fulcioURL,
			CertChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{
				{RawBytes: s.ca.inter.Raw}, {RawBytes: s.ca.root.Raw},
			}},
			ValidFor: &protocommon.TimeRange{Start: start},
		}},
	}
	return protojson.MarshalOptions{Multiline: true}.Marshal(tr)
}
