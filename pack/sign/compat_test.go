package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/evidencerelay/epack/internal/sigstoretest"
	"github.com/evidencerelay/epack/pack/sign"
)

// upstreamKeyBundle writes a key-signed bundle the way COMPAT §10.3 shows
// the existing tool writing one, without sigstore-go: the statement as
// compact JSON, DSSE PAE, ECDSA P-256 over SHA-256 in ASN.1 DER, an empty
// key hint and no log entries.
func upstreamKeyBundle(t testing.TB, k *ecdsa.PrivateKey, manifestHex string) []byte {
	t.Helper()
	stmt := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"manifest.json","digest":{"sha256":"` + manifestHex +
		`"}}],"predicateType":"https://evidencepack.org/attestation/v1","predicate":{}}`
	const pt = "application/vnd.in-toto+json"
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(pt), pt, len(stmt), stmt)
	sum := sha256.Sum256([]byte(pae))
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{"publicKey": map[string]any{}},
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString([]byte(stmt)), "payloadType": pt,
			"signatures": []map[string]any{{"sig": base64.StdEncoding.EncodeToString(sig)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A pack signed by the existing tool with a key verifies here with --key,
// which that tool itself cannot do.
func TestUpstreamKeySignedBundleVerifies(t *testing.T) {
	t.Parallel()
	k := newKeys(t)[0]
	_, pubPath := writeKeys(t, t.TempDir(), k, "pkcs8")
	pub, err := sign.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	raw := upstreamKeyBundle(t, k.priv.(*ecdsa.PrivateKey), digestA[len("sha256:"):])
	entry := sign.EntryName(pub.ID)
	rep := sign.Check(digestA, map[string][]byte{entry: raw}, sign.Policy{Keys: []*sign.PublicKey{pub}})
	if err := rep.Err(); err != nil {
		t.Fatalf("upstream-shaped bundle: %v", err)
	}
	// The same bundle for another manifest digest does not.
	rep = sign.Check(digestB, map[string][]byte{entry: raw}, sign.Policy{Keys: []*sign.PublicKey{pub}})
	if rep.Satisfied() {
		t.Fatal("a bundle for another manifest verified")
	}
}

// A key signature recorded in a transparency log still verifies with the
// key alone.
func TestKeySignedWithTlogVerifiesWithKey(t *testing.T) {
	t.Parallel()
	s := sigstoretest.New(t)
	path := buildPack(t)
	k := newKeys(t)[0]
	if _, err := sign.SignFile(context.Background(), path, sign.Options{Key: k.priv, RekorURL: s.RekorURL()}, false); err != nil {
		t.Fatal(err)
	}
	if s.LogSize() != 1 {
		t.Fatalf("log size %d after a logged key signature", s.LogSize())
	}
	v := verified(t, path)
	_, pubPath := writeKeys(t, t.TempDir(), k, "pkcs8")
	pub, err := sign.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.Check(v.ManifestDigest, v.Bundles, sign.Policy{Keys: []*sign.PublicKey{pub}}).Err(); err != nil {
		t.Fatal(err)
	}
}
