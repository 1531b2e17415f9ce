package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
)

// TestReleaseSigners: a signature the policy accepted is sent verified with
// its key id (never the key file's path), any other bundle as claimed
// (what it says, unchecked), an unreadable one not at all; the list is
// bounded and nil when nobody signed.
func TestReleaseSigners(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.NewBundle(context.Background(), digest, sign.Options{Key: key, NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	bundles := map[string][]byte{b.Entry: b.JSON, "attestations/bad.sigstore.json": []byte("{")}
	atts := []string{b.Entry, "attestations/bad.sigstore.json"}

	if got := releaseSigners(nil, nil, nil); got != nil {
		t.Fatalf("unsigned: %+v", got)
	}
	got := releaseSigners(atts, bundles, nil)
	if want := []protocol.ReleaseSigner{{Kind: "key"}}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("unchecked: %+v, want %+v", got, want)
	}
	checked := []sign.Signature{{Entry: b.Entry, Kind: "key", Signer: "/home/me/keys/release.pub", KeyID: b.Identity, Verified: true, Allowed: true}}
	got = releaseSigners(atts, bundles, checked)
	if want := (protocol.ReleaseSigner{Kind: "key", Signer: b.Identity, KeyID: b.Identity, Verified: true}); len(got) != 1 || got[0] != want {
		t.Fatalf("checked: %+v, want %+v", got, want)
	}
	if err := protocol.CheckSigners(got); err != nil {
		t.Fatal(err)
	}
	// Keyless, checked: subject and issuer, no key id.
	kl := []sign.Signature{{Entry: "attestations/kl.sigstore.json", Kind: "keyless", Subject: "alice@example.com", Issuer: "https://issuer.example", KeyID: b.Identity, Verified: true, Allowed: true}}
	got = releaseSigners([]string{"attestations/kl.sigstore.json"}, map[string][]byte{"attestations/kl.sigstore.json": []byte("{}")}, kl)
	if want := (protocol.ReleaseSigner{Kind: "keyless", Signer: "alice@example.com", Subject: "alice@example.com", Issuer: "https://issuer.example", Verified: true}); len(got) != 1 || got[0] != want {
		t.Fatalf("keyless: %+v, want %+v", got, want)
	}
	// Bounded.
	many := map[string][]byte{}
	var names []string
	for i := 0; i < protocol.MaxReleaseSigners+5; i++ {
		n := "attestations/" + strings.Repeat("x", i+1) + ".sigstore.json"
		many[n], names = b.JSON, append(names, n)
	}
	if got := releaseSigners(names, many, nil); len(got) != protocol.MaxReleaseSigners {
		t.Fatalf("%d signers sent, want %d", len(got), protocol.MaxReleaseSigners)
	}
}
