package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckSigners(t *testing.T) {
	id := strings.Repeat("ab", 32)
	key := ReleaseSigner{Kind: SignerKey, Signer: id, KeyID: id, Verified: true}
	keyless := ReleaseSigner{Kind: SignerKeyless, Signer: "alice@example.com", Subject: "alice@example.com", Issuer: "https://accounts.example.com", Verified: true}
	many := make([]ReleaseSigner, MaxReleaseSigners+1)
	for i := range many {
		many[i] = ReleaseSigner{Kind: SignerKey}
	}
	with := func(s ReleaseSigner, f func(*ReleaseSigner)) []ReleaseSigner { f(&s); return []ReleaseSigner{s} }
	for _, tc := range []struct {
		name string
		in   []ReleaseSigner
		want string
	}{
		{"none", nil, ""},
		{"verified key and keyless", []ReleaseSigner{key, keyless}, ""},
		{"claimed key without a key id", []ReleaseSigner{{Kind: SignerKey}}, ""},
		{"claimed keyless without an issuer", []ReleaseSigner{{Kind: SignerKeyless, Signer: "a", Subject: "a"}}, ""},
		{"at the bound", many[:MaxReleaseSigners], ""},
		{"too many", many, "at most 64"},
		{"unknown kind", []ReleaseSigner{{Kind: "unknown"}}, "kind"},
		{"no kind", []ReleaseSigner{{}}, "kind"},
		{"key id not hex", with(key, func(s *ReleaseSigner) { s.KeyID = strings.Repeat("AB", 32) }), "key_id"},
		{"key id short", with(key, func(s *ReleaseSigner) { s.KeyID = "ab12" }), "key_id"},
		{"verified key without key id", with(key, func(s *ReleaseSigner) { s.KeyID = "" }), "needs its key_id"},
		{"key with a subject", with(key, func(s *ReleaseSigner) { s.Subject = "x" }), "no issuer or subject"},
		{"verified keyless without issuer", with(keyless, func(s *ReleaseSigner) { s.Issuer = "" }), "subject and issuer"},
		{"verified keyless without subject", with(keyless, func(s *ReleaseSigner) { s.Subject = "" }), "subject and issuer"},
		{"subject too long", with(keyless, func(s *ReleaseSigner) { s.Subject = strings.Repeat("s", MaxSignerFieldBytes+1) }), "at most"},
		{"signer with a newline", with(keyless, func(s *ReleaseSigner) { s.Signer = "a\nb" }), "control"},
		{"issuer with an escape", with(keyless, func(s *ReleaseSigner) { s.Issuer = "a\x1b[2Jb" }), "control"},
		{"subject with a bidi override", with(keyless, func(s *ReleaseSigner) { s.Subject = "a\u202eb" }), "control"},
		{"invalid UTF-8", with(keyless, func(s *ReleaseSigner) { s.Subject = "a\xffb" }), "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSigners(tc.in)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckSigners() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReleaseInfoSigners: release.signers is left out when there are none
// (the existing tool's adapters see the request they know), and verified is
// always written in a signer.
func TestReleaseInfoSigners(t *testing.T) {
	b, _ := json.Marshal(ReleaseInfo{Labels: []string{"v1"}})
	if strings.Contains(string(b), "signers") {
		t.Fatalf("empty signers written: %s", b)
	}
	b, _ = json.Marshal(ReleaseInfo{Signers: []ReleaseSigner{{Kind: SignerKey}}})
	if want := `{"signers":[{"kind":"key","signer":"","verified":false}]}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}
