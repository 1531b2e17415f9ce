package sign_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
)

// buildPack writes a small pack into a fresh folder and returns its path.
func buildPack(t testing.TB) string {
	t.Helper()
	b := pack.NewBuilder("acme/prod")
	if err := b.AddBytes("report.json", []byte(`{"controls":"pass"}`)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.epack")
	if _, err := b.WriteFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	return path
}

type testKey struct {
	name string
	priv crypto.Signer
}

func newKeys(t testing.TB) []testKey {
	t.Helper()
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return []testKey{{"p256", p256}, {"p384", p384}, {"ed25519", ed}, {"rsa2048", rk}}
}

// writeKeys writes priv in the given PEM form and its public key, returning
// both paths.
func writeKeys(t testing.TB, dir string, k testKey, form string) (privPath, pubPath string) {
	t.Helper()
	var block *pem.Block
	switch form {
	case "pkcs8":
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case "sec1":
		der, err := x509.MarshalECPrivateKey(k.priv.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case "pkcs1":
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.priv.(*rsa.PrivateKey))}
	default:
		t.Fatalf("unknown form %s", form)
	}
	privPath = filepath.Join(dir, k.name+"-"+form+".pem")
	if err := os.WriteFile(privPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPath = filepath.Join(dir, k.name+".pub")
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return privPath, pubPath
}

func verified(t testing.TB, path string) *pack.Verified {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := pack.VerifyFile(context.Background(), f, pack.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeySignThenVerify(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	forms := map[string][]string{"p256": {"pkcs8", "sec1"}, "p384": {"sec1"}, "ed25519": {"pkcs8"}, "rsa2048": {"pkcs1", "pkcs8"}}
	for _, k := range keys {
		for _, form := range forms[k.name] {
			t.Run(k.name+"/"+form, func(t *testing.T) {
				t.Parallel()
				path := buildPack(t)
				before := verified(t, path)
				privPath, pubPath := writeKeys(t, t.TempDir(), k, form)
				priv, err := sign.LoadPrivateKey(privPath, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(priv.Warnings) != 0 {
					t.Fatalf("a 0600 key got warnings: %v", priv.Warnings)
				}
				res, err := sign.SignFile(context.Background(), path, sign.Options{Key: priv.Signer, NoTlog: true}, false)
				if err != nil {
					t.Fatal(err)
				}
				after := verified(t, path)
				if after.Manifest.PackDigest != before.Manifest.PackDigest || after.ManifestDigest != before.ManifestDigest {
					t.Fatalf("signing changed the digests: %s/%s → %s/%s", before.Manifest.PackDigest, before.ManifestDigest, after.Manifest.PackDigest, after.ManifestDigest)
				}
				if len(after.Bundles) != 1 || after.Bundles[res.Entry] == nil {
					t.Fatalf("bundles after signing: %v, want only %s", after.Attestations, res.Entry)
				}
				pub, err := sign.LoadPublicKey(pubPath)
				if err != nil {
					t.Fatal(err)
				}
				if pub.ID != res.Identity || sign.EntryName(pub.ID) != res.Entry {
					t.Fatalf("identity %s / entry %s do not follow the public key %s", res.Identity, res.Entry, pub.ID)
				}
				rep := sign.Check(after.ManifestDigest, after.Bundles, sign.Policy{Keys: []*sign.PublicKey{pub}})
				if err := rep.Err(); err != nil {
					t.Fatalf("right key: %v", err)
				}
				if s := rep.Signatures[0]; !s.Verified || !s.Allowed || s.Kind != "key" || s.KeyID != pub.ID {
					t.Fatalf("right key report: %+v", s)
				}
				// Another key of the same kind does not verify it.
				_, otherPub := writeKeys(t, t.TempDir(), newKeys(t)[indexOf(keys, k.name)], form)
				other, err := sign.LoadPublicKey(otherPub)
				if err != nil {
					t.Fatal(err)
				}
				rep = sign.Check(after.ManifestDigest, after.Bundles, sign.Policy{Keys: []*sign.PublicKey{other}})
				testkit.WantCode(t, rep.Err(), errcode.SignatureInvalid)
				if rep.Signatures[0].Verified {
					t.Fatal("a wrong key verified the signature")
				}
				// The right key among others still verifies.
				rep = sign.Check(after.ManifestDigest, after.Bundles, sign.Policy{Keys: []*sign.PublicKey{other, pub}})
				if err := rep.Err(); err != nil {
					t.Fatalf("right key second in the list: %v", err)
				}
			})
		}
	}
}

func indexOf(keys []testKey, name string) int {
	for i, k := range keys {
		if k.name == name {
			return i
		}
	}
	return -1
}

// The bundle is written exactly as COMPAT §10.3 shows the existing tool
// writing a key signature: v0.3 media type, an empty key hint, no log
// entries with NoTlog, and the statement byte for byte.
func TestKeyBundleShape(t *testing.T) {
	t.Parallel()
	path := buildPack(t)
	k := newKeys(t)[0]
	if _, err := sign.SignFile(context.Background(), path, sign.Options{Key: k.priv, NoTlog: true}, false); err != nil {
		t.Fatal(err)
	}
	v := verified(t, path)
	var raw []byte
	for _, b := range v.Bundles {
		raw = b
	}
	var b struct {
		MediaType            string                     `json:"mediaType"`
		VerificationMaterial map[string]json.RawMessage `json:"verificationMaterial"`
		DSSE                 struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig string `json:"sig"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if b.MediaType != pack.SigstoreBundleMediaType {
		t.Fatalf("mediaType %q", b.MediaType)
	}
	if got := string(b.VerificationMaterial["publicKey"]); got != "{}" {
		t.Fatalf("publicKey %s, want {} (empty hint)", got)
	}
	if _, ok := b.VerificationMaterial["tlogEntries"]; ok {
		t.Fatalf("tlogEntries present with NoTlog: %s", raw)
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSE.Payload)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sign.Statement(v.ManifestDigest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(payload, want) {
		t.Fatalf("statement\n%s\nwant\n%s", payload, want)
	}
	wantText := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"manifest.json","digest":{"sha256":"` +
		v.ManifestDigest[len("sha256:"):] + `"}}],"predicateType":"https://evidencepack.org/attestation/v1","predicate":{}}`
	if string(want) != wantText {
		t.Fatalf("Statement\n%s\nwant\n%s", want, wantText)
	}
	if b.DSSE.PayloadType != pack.InTotoPayloadType || len(b.DSSE.Signatures) != 1 {
		t.Fatalf("envelope %+v", b.DSSE)
	}
}

// Signing again with the same key replaces its entry; another key adds one.
func TestResignAndSeveralSigners(t *testing.T) {
	t.Parallel()
	path := buildPack(t)
	keys := newKeys(t)
	ctx := context.Background()
	r1, err := sign.SignFile(ctx, path, sign.Options{Key: keys[0].priv, NoTlog: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := sign.SignFile(ctx, path, sign.Options{Key: keys[0].priv, NoTlog: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Replaced || r2.Entry != r1.Entry || r2.Signatures != 1 {
		t.Fatalf("re-sign: %+v", r2)
	}
	r3, err := sign.SignFile(ctx, path, sign.Options{Key: keys[2].priv, NoTlog: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Replaced || r3.Signatures != 2 {
		t.Fatalf("second signer: %+v", r3)
	}
	if got := verified(t, path).Attestations; len(got) != 2 {
		t.Fatalf("attestations %v", got)
	}
}

// Concurrent signers on one pack all end up in it.
func TestConcurrentSignersKeepEverySignature(t *testing.T) {
	t.Parallel()
	path := buildPack(t)
	keys := newKeys(t)
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = sign.SignFile(context.Background(), path, sign.Options{Key: k.priv, NoTlog: true}, false)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := verified(t, path).Attestations; len(got) != len(keys) {
		t.Fatalf("%d signers, %d attestations: %v", len(keys), len(got), got)
	}
}

// A pack that does not verify is never signed, and the file is untouched.
func TestTamperedPackIsNotSigned(t *testing.T) {
	t.Parallel()
	path := buildPack(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte(`{"controls":"pass"}`))
	if i < 0 {
		t.Fatal("artifact bytes not found stored")
	}
	raw[i+2] = 'C'
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = sign.SignFile(context.Background(), path, sign.Options{Key: newKeys(t)[0].priv, NoTlog: true}, false)
	if err == nil {
		t.Fatal("a tampered pack was signed")
	}
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(after, raw) {
		t.Fatal("the tampered pack was rewritten")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	path := buildPack(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sign.SignFile(context.Background(), path, sign.Options{Key: newKeys(t)[1].priv, NoTlog: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Entry == "" || res.Signatures != 1 {
		t.Fatalf("dry run: %+v", res)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("dry run changed the pack")
	}
}
