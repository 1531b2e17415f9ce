package sign_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
)

// keyBundle signs manifestDigest with a fresh P-256 key and returns the
// bundle and the policy key that verifies it.
func keyBundle(t testing.TB, manifestDigest string) (*sign.Bundle, *sign.PublicKey) {
	t.Helper()
	k := newKeys(t)[0]
	b, err := sign.NewBundle(context.Background(), manifestDigest, sign.Options{Key: k.priv, NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	_, pubPath := writeKeys(t, t.TempDir(), k, "pkcs8")
	pub, err := sign.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	return b, pub
}

const digestA = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
const digestB = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

// rewriteStatement replaces the statement inside a bundle (keeping the
// now-wrong signature).
func rewriteStatement(t testing.TB, raw []byte, edit func(string) string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	env := m["dsseEnvelope"].(map[string]any)
	pl, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(edit(string(pl))))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckRefusesHostileBundles(t *testing.T) {
	t.Parallel()
	good, pub := keyBundle(t, digestA)
	other, _ := keyBundle(t, digestB)
	flipSig := func() []byte {
		var m map[string]any
		if err := json.Unmarshal(good.JSON, &m); err != nil {
			t.Fatal(err)
		}
		sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
		raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
		raw[len(raw)/2] ^= 1
		sig["sig"] = base64.StdEncoding.EncodeToString(raw)
		out, _ := json.Marshal(m)
		return out
	}
	// code is the signature's own error; the report's error (the exit
	// status) is the same code for malformed input (invalid_attestation,
	// attestation_too_large: exit 2, as issue 13 asks "2 for malformed
	// input") and signature_invalid (exit 12) for a readable signature that
	// does not verify or is not for this pack.
	cases := []struct {
		name   string
		bundle []byte
		code   errcode.Code
	}{
		{"not JSON", []byte("{"), errcode.InvalidAttestation},
		{"JSON array", []byte("[]"), errcode.InvalidAttestation},
		{"wrong media type", bytes.Replace(good.JSON, []byte("bundle.v0.3+json"), []byte("bundle.v9+json"), 1), errcode.InvalidAttestation},
		{"no envelope", []byte(`{"mediaType":"` + pack.SigstoreBundleMediaType + `","verificationMaterial":{"publicKey":{}}}`), errcode.InvalidAttestation},
		{"statement for another manifest", other.JSON, errcode.SignatureInvalid},
		{"wrong predicate type", rewriteStatement(t, good.JSON, func(s string) string {
			return strings.Replace(s, "evidencepack.org/attestation/v1", "example.com/other/v1", 1)
		}), errcode.InvalidAttestation},
		{"statement edited after signing", rewriteStatement(t, good.JSON, func(s string) string {
			return strings.Replace(s, `"predicate":{}`, `"predicate":{"x":1}`, 1)
		}), errcode.SignatureInvalid},
		{"signature bit flipped", flipSig(), errcode.SignatureInvalid},
		{"over 1 MiB", append(append([]byte{}, good.JSON[:len(good.JSON)-1]...), []byte(`,"pad":"`+strings.Repeat("a", pack.MaxAttestationSize)+`"}`)...), errcode.AttestationTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := sign.Check(digestA, map[string][]byte{"attestations/x.sigstore.json": c.bundle}, sign.Policy{Keys: []*sign.PublicKey{pub}})
			if rep.Satisfied() {
				t.Fatal("a hostile bundle satisfied the policy")
			}
			s := rep.Signatures[0]
			if s.Verified || s.Allowed || s.Error == "" {
				t.Fatalf("report %+v", s)
			}
			testkit.WantCode(t, s.Err(), c.code)
			if s.Code != c.code {
				t.Fatalf("Signature.Code %q, want %q", s.Code, c.code)
			}
			// Malformed input (not JSON, wrong media type, no envelope, a
			// statement not in the COMPAT §10.3 form, over 1 MiB) is exit 2
			// like any other malformed pack content; only a well-formed
			// signature that fails (bad bits, other manifest, edited
			// statement) is exit 12. Before this, every case here was 12.
			want, status := errcode.SignatureInvalid, exitstatus.Signature
			if c.code == errcode.InvalidAttestation || c.code == errcode.AttestationTooLarge {
				want, status = c.code, exitstatus.BadInput
			}
			testkit.WantCode(t, rep.Err(), want)
			if got := exitstatus.Of(rep.Err()); got != status {
				t.Fatalf("exit status %d, want %d", got, status)
			}
		})
	}
	// A malformed bundle beside a readable signature that fails: the
	// signature decides, exit 12.
	rep := sign.Check(digestA, map[string][]byte{"attestations/a.sigstore.json": []byte("{"), "attestations/b.sigstore.json": flipSig()}, sign.Policy{Keys: []*sign.PublicKey{pub}})
	testkit.WantCode(t, rep.Err(), errcode.SignatureInvalid)
	// Malformed without any policy: still malformed input, exit 2.
	testkit.WantCode(t, sign.Check(digestA, map[string][]byte{"attestations/a.sigstore.json": []byte("[]")}, sign.Policy{}).Err(), errcode.InvalidAttestation)
	// The untouched bundle does verify, so the cases above fail for their own reason.
	okRep := sign.Check(digestA, map[string][]byte{good.Entry: good.JSON}, sign.Policy{Keys: []*sign.PublicKey{pub}})
	if err := okRep.Err(); err != nil {
		t.Fatal(err)
	}
	if s := okRep.Signatures[0]; s.Code != "" || s.Error != "" {
		t.Fatalf("a verified signature carries code %q, error %q", s.Code, s.Error)
	}
	if d := sign.Describe("attestations/x.sigstore.json", []byte("{")); d.Code != errcode.InvalidAttestation {
		t.Fatalf("Describe of a malformed bundle: code %q", d.Code)
	}
}

func TestCheckWithoutPolicy(t *testing.T) {
	t.Parallel()
	good, _ := keyBundle(t, digestA)
	rep := sign.Check(digestA, map[string][]byte{good.Entry: good.JSON}, sign.Policy{})
	err := rep.Err()
	testkit.WantCode(t, err, errcode.IdentityMismatch)
	if h := errcode.HintOf(err); !strings.Contains(h, "--key") || !strings.Contains(h, "--issuer") || !strings.Contains(h, "--integrity-only") {
		t.Fatalf("hint %q does not name --key, --issuer and --integrity-only", h)
	}
	testkit.WantCode(t, sign.Check(digestA, nil, sign.Policy{}).Err(), errcode.SignatureInvalid)
}

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := newKeys(t)[0]
	privPath, pubPath := writeKeys(t, dir, k, "pkcs8")

	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(privPath, link); err != nil {
		t.Fatal(err)
	}
	_, err := sign.LoadPrivateKey(link, nil)
	testkit.WantCode(t, err, errcode.SymlinkNotAllowed)
	_, err = sign.LoadPublicKey(filepath.Join(dir, "missing.pub"))
	testkit.WantCode(t, err, errcode.InvalidInput)

	// World-readable private key: signs, with a warning.
	open := filepath.Join(dir, "open.pem")
	raw, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	pk, err := sign.LoadPrivateKey(open, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk.Warnings) != 1 || !strings.Contains(pk.Warnings[0], "chmod 600") {
		t.Fatalf("warnings %v", pk.Warnings)
	}

	// A public key is not a private key and the reverse.
	_, err = sign.LoadPrivateKey(pubPath, nil)
	testkit.WantCode(t, err, errcode.InvalidInput)
	_, err = sign.LoadPublicKey(privPath)
	testkit.WantCode(t, err, errcode.InvalidInput)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = sign.LoadPrivateKey(garbage, nil)
	testkit.WantCode(t, err, errcode.InvalidInput)

	// Encrypted PKCS#8: needs the passphrase, refuses a wrong one.
	enc, err := pkcs8.MarshalPrivateKey(k.priv, []byte("s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	encPath := filepath.Join(dir, "enc.pem")
	if err := os.WriteFile(encPath, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = sign.LoadPrivateKey(encPath, nil)
	testkit.WantCode(t, err, errcode.InvalidInput)
	_, err = sign.LoadPrivateKey(encPath, func() ([]byte, error) { return []byte("wrong"), nil })
	testkit.WantCode(t, err, errcode.InvalidInput)
	got, err := sign.LoadPrivateKey(encPath, func() ([]byte, error) { return []byte("s3cret"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if !got.Signer.(*ecdsa.PrivateKey).Equal(k.priv) {
		t.Fatal("decrypted a different key")
	}
	// Legacy encrypted PEM (Proc-Type: 4,ENCRYPTED).
	der, err := x509.MarshalECPrivateKey(k.priv.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // testing that the legacy form is read
	blk, err := x509.EncryptPEMBlock(randReader{}, "EC PRIVATE KEY", der, []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, "legacy.pem")
	if err := os.WriteFile(legacy, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.LoadPrivateKey(legacy, func() ([]byte, error) { return []byte("pw"), nil }); err != nil {
		t.Fatal(err)
	}
}

type randReader struct{}

func (randReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return len(b), nil
}

// FuzzCheck feeds arbitrary bytes as a bundle to a keys-only policy and to
// sign.Describe: never a panic, never a satisfied policy but for the key's
// own signature. FuzzCheckKeyless covers keyless identities.
func FuzzCheck(f *testing.F) {
	good, pub := keyBundle(f, digestA)
	f.Add(good.JSON)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{}}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep := sign.Check(digestA, map[string][]byte{"attestations/f.sigstore.json": raw}, sign.Policy{Keys: []*sign.PublicKey{pub}})
		if rep.Satisfied() && !bytes.Equal(raw, good.JSON) {
			// Only a real signature by pub over digestA may pass; any other
			// accepted input must at least carry the same signature.
			if !strings.Contains(string(raw), "dsseEnvelope") {
				t.Fatalf("accepted %q", raw)
			}
		}
		if len(rep.Signatures) != 1 {
			t.Fatalf("%d signatures reported for one bundle", len(rep.Signatures))
		}
		if s := rep.Signatures[0]; !s.Allowed && s.Code == "" {
			t.Fatalf("refused without a code: %+v", s)
		}
		// The unchecked listing of 'epack inspect' never trusts anything.
		if d := sign.Describe("attestations/f.sigstore.json", raw); d.Verified || d.Allowed || (d.Error == "") != (d.Code == "") {
			t.Fatalf("Describe: %+v", d)
		}
	})
}
