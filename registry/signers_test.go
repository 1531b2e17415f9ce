package registry_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// TestRecordSigners: a record without signers is stored exactly as before
// signers were recorded (no signers key), one with signers is canonical
// and reads back the same, and one with malformed signers is refused.
func TestRecordSigners(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rec := func(s []protocol.ReleaseSigner) *registry.Release {
		return &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: 1, RecordedAt: at,
			ReleaseID: registry.NewReleaseID(at), Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32),
			SizeBytes: 10, CreatedAt: at, Signers: s}
	}
	plain, err := registry.EncodeRecord(rec(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "signers") {
		t.Fatalf("a record without signers names them: %s", plain)
	}
	if _, err := registry.ParseRecord(plain); err != nil {
		t.Fatalf("record without signers: %v", err)
	}
	id := strings.Repeat("cd", 32)
	signed := []protocol.ReleaseSigner{{Kind: protocol.SignerKey, Signer: id, KeyID: id, Verified: true}, {Kind: protocol.SignerKeyless, Signer: "a@example.com", Subject: "a@example.com"}}
	b, err := registry.EncodeRecord(rec(signed))
	if err != nil {
		t.Fatal(err)
	}
	got, err := registry.ParseRecord(b)
	if err != nil {
		t.Fatalf("record with signers: %v\n%s", err, b)
	}
	if len(got.Signers) != 2 || got.Signers[0] != signed[0] || got.Signers[1] != signed[1] {
		t.Fatalf("signers read back: %+v", got.Signers)
	}
	bad, _ := registry.EncodeRecord(rec([]protocol.ReleaseSigner{{Kind: "gpg"}}))
	if _, err := registry.ParseRecord(bad); !errors.Is(err, registry.ErrMalformedRecord) {
		t.Fatalf("record with a malformed signer: %v", err)
	}
}
