package cli_test

import (
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// sigauditEntry is the attestation entry name of the public key in pubPath
// (COMPAT §10.3: hex SHA-256 of the hex SHA-256 of the PKIX DER).
func sigauditEntry(t *testing.T, pubPath string) string {
	t.Helper()
	raw, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	id := sha256.Sum256(blk.Bytes)
	name := sha256.Sum256([]byte(hex.EncodeToString(id[:])))
	return hex.EncodeToString(name[:])
}

// TestVerifyJSONSignatureCode: each signature in verify --json carries a
// stable code beside its error text, and none when it verified.
func TestVerifyJSONSignatureCode(t *testing.T) {
	dir := t.TempDir()
	sigauditPack(t, dir)
	keys := filepath.Join(dir, "keys")
	ciPriv, ciPub := e2e.WriteKeyPair(t, keys, "ci", elliptic.P256())
	relPriv, relPub := e2e.WriteKeyPair(t, keys, "rel", elliptic.P384())
	_, otherPub := e2e.WriteKeyPair(t, keys, "other", elliptic.P256())
	for _, k := range []string{ciPriv, relPriv} {
		if out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", k, "--no-tlog"); code != 0 {
			t.Fatalf("sign: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	type sig struct {
		Entry    string  `json:"entry"`
		Allowed  bool    `json:"allowed"`
		Error    string  `json:"error"`
		Code     *string `json:"code"`
		Verified bool    `json:"verified"`
	}
	verify := func(wantExit int, args ...string) map[string]sig {
		t.Helper()
		out, errOut, code := runEpack(t, dir, nil, append([]string{"verify", "p.epack", "--json"}, args...)...)
		if code != wantExit {
			t.Fatalf("verify %v: exit %d, want %d\n%s\n%s", args, code, wantExit, out, errOut)
		}
		var res struct {
			Signatures []sig `json:"signatures"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--json output %q: %v", out, err)
		}
		m := map[string]sig{}
		for _, s := range res.Signatures {
			m[s.Entry] = s
		}
		if len(m) != 2 {
			t.Fatalf("%d signatures: %s", len(m), out)
		}
		return m
	}
	ciEntry := "attestations/" + sigauditEntry(t, ciPub) + ".sigstore.json"
	relEntry := "attestations/" + sigauditEntry(t, relPub) + ".sigstore.json"

	// One key given: its signature has no code, the other's is signature_invalid.
	m := verify(0, "--key", ciPub)
	if s := m[ciEntry]; !s.Allowed || s.Code != nil || s.Error != "" {
		t.Fatalf("verified signature: %+v", s)
	}
	if s := m[relEntry]; s.Allowed || s.Code == nil || *s.Code != "signature_invalid" || s.Error == "" {
		t.Fatalf("signature by a key not given: %+v", s)
	}
	// No key fits: both carry the code, exit 12.
	m = verify(12, "--key", otherPub)
	for e, s := range m {
		if s.Allowed || s.Code == nil || *s.Code != "signature_invalid" {
			t.Fatalf("%s: %+v", e, s)
		}
	}
	// A keys-only policy meets no keyless signature here; both kinds of
	// failure keep their own code: a key signature with no key to check it.
	m = verify(12, "--issuer", "https://issuer.example", "--subject", "someone")
	for e, s := range m {
		if s.Code == nil || *s.Code != "signature_invalid" {
			t.Fatalf("%s: %+v", e, s)
		}
	}
}
