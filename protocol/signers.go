package protocol

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Signers of a release (our addition). The host sends them in
// push.prepare's release.signers; a registry that records them answers them
// in each releases.list entry's signers. Both are optional: the existing
// tool's adapters ignore release.signers, and a host reads an answer
// without signers as "none recorded".
//
//	"signers":[{"kind":"key","signer":"<key id>","key_id":"<key id>","verified":true},
//	           {"kind":"keyless","signer":"alice@example.com","subject":"alice@example.com",
//	            "issuer":"https://accounts.example.com","verified":false}]
//
// Only identities travel, never key material or tokens: a key signer is
// named by its key id (hex SHA-256 of the public key, PKIX DER), a keyless
// one by its certificate's subject and OIDC issuer. verified is true only
// when the host checked the signature against the remote's signer policy
// before the push; false means claimed: what the pack's bundle says,
// listed unchecked (as 'epack inspect' shows it). An unchecked key
// signature names no key (its bundle carries none).

// Kinds of a release signer.
const (
	SignerKey     = "key"
	SignerKeyless = "keyless"
)

// Bounds of a release's signers.
const (
	// MaxReleaseSigners bounds the signers of one release.
	MaxReleaseSigners = 64
	// MaxSignerFieldBytes bounds each text field of a signer.
	MaxSignerFieldBytes = 1024
)

// CheckSigners refuses a signer list no side should have to read: more
// than MaxReleaseSigners, a kind other than "key" or "keyless", a field
// longer than MaxSignerFieldBytes or with invalid UTF-8 or a control
// character, a key_id that is not 64 lowercase hex, a key signer with an
// issuer or subject, a verified key signer without key_id, a verified
// keyless one without subject and issuer. Both sides run it: a host before
// sending and on every releases.list answer, an adapter on receipt.
func CheckSigners(signers []ReleaseSigner) error {
	if len(signers) > MaxReleaseSigners {
		return fmt.Errorf("%d signers, at most %d", len(signers), MaxReleaseSigners)
	}
	for i, s := range signers {
		if err := s.check(); err != nil {
			return fmt.Errorf("signers[%d]: %v", i, err)
		}
	}
	return nil
}

func (s *ReleaseSigner) check() error {
	for _, f := range []struct{ name, v string }{{"kind", s.Kind}, {"signer", s.Signer}, {"key_id", s.KeyID}, {"issuer", s.Issuer}, {"subject", s.Subject}} {
		if err := checkSignerText(f.name, f.v); err != nil {
			return err
		}
	}
	if s.KeyID != "" && !isHex64(s.KeyID) {
		return fmt.Errorf("key_id %.70q is not 64 lowercase hex", s.KeyID)
	}
	switch s.Kind {
	case SignerKey:
		if s.Issuer != "" || s.Subject != "" {
			return fmt.Errorf("a key signer has no issuer or subject")
		}
		if s.Verified && s.KeyID == "" {
			return fmt.Errorf("a verified key signer needs its key_id")
		}
	case SignerKeyless:
		if s.Verified && (s.Subject == "" || s.Issuer == "") {
			return fmt.Errorf("a verified keyless signer needs its subject and issuer")
		}
	default:
		return fmt.Errorf("kind %.40q is neither %q nor %q", s.Kind, SignerKey, SignerKeyless)
	}
	return nil
}

func checkSignerText(field, v string) error {
	if len(v) > MaxSignerFieldBytes {
		return fmt.Errorf("%s is %d bytes, at most %d", field, len(v), MaxSignerFieldBytes)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not UTF-8", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

func isHex64(s string) bool { return len(s) == 64 && onlyBytes(s, "0123456789abcdef") }
