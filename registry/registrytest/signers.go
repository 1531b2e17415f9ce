package registrytest

import (
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Signers: the signers a push brings (release.signers) are recorded with
// the release it creates and listed by releases.list; a release pushed
// without them lists none; a re-push keeps the first push's list; a
// malformed list is refused with nothing written.
func Signers(t *testing.T, e *Env) {
	dir := t.TempDir()
	keyID := strings.Repeat("ab", 32)
	signed := []protocol.ReleaseSigner{
		{Kind: protocol.SignerKey, Signer: keyID, KeyID: keyID, Verified: true},
		{Kind: protocol.SignerKeyless, Signer: "alice@example.com", Subject: "alice@example.com", Issuer: "https://accounts.example.com"},
	}
	p1 := MakePack(t, dir, "signed.epack", "signers signed")
	f1, err := PushWith(t, e, target, p1, protocol.ReleaseInfo{Labels: []string{"signed"}, Signers: signed})
	if err != nil {
		t.Fatal(err)
	}
	p2 := MakePack(t, dir, "unsigned.epack", "signers unsigned")
	f2, err := PushWith(t, e, target, p2, protocol.ReleaseInfo{Labels: []string{"unsigned"}})
	if err != nil {
		t.Fatal(err)
	}
	// A re-push bringing other signers: the first push's list stays.
	if _, err := PushWith(t, e, target, p1, protocol.ReleaseInfo{Signers: signed[:1]}); err != nil {
		t.Fatalf("re-push: %v", err)
	}
	bySigners := func() map[string][]protocol.ReleaseSigner {
		got := map[string][]protocol.ReleaseSigner{}
		for _, r := range List(t, e, protocol.ReleasesListRequest{Target: target}).Releases {
			got[r.ReleaseID] = r.Signers
		}
		return got
	}
	got := bySigners()
	if !slices.Equal(got[f1.Release.ReleaseID], signed) {
		t.Fatalf("signers of the signed release: %+v, want %+v", got[f1.Release.ReleaseID], signed)
	}
	if s, ok := got[f2.Release.ReleaseID]; !ok || len(s) != 0 {
		t.Fatalf("signers of the unsigned release: %+v (listed %v), want none", s, ok)
	}
	if err := protocol.CheckSigners(got[f1.Release.ReleaseID]); err != nil {
		t.Fatal(err)
	}
	if rel := releaseRecord(t, e, target, f1.Release.ReleaseID); rel.Kind != registry.RecordUpdate || !slices.Equal(rel.Signers, signed) {
		t.Fatalf("newest record of the signed release: kind %q signers %+v", rel.Kind, rel.Signers)
	}

	// Malformed signers are refused before anything is written.
	before := snapshot(t, e)
	p3 := MakePack(t, dir, "bad.epack", "signers bad")
	for _, bad := range [][]protocol.ReleaseSigner{
		{{Kind: "gpg", Signer: "x"}},
		{{Kind: protocol.SignerKey, Verified: true}},
		{{Kind: protocol.SignerKeyless, Subject: "a\x1b[2Jb"}},
		slices.Repeat([]protocol.ReleaseSigner{{Kind: protocol.SignerKey}}, protocol.MaxReleaseSigners+1),
	} {
		_, err := PushWith(t, e, target, p3, protocol.ReleaseInfo{Signers: bad})
		wantCode(t, err, protocol.CodeInvalidRequest, "malformed signers")
	}
	sameSnapshot(t, "refused signers", before, snapshot(t, e))
	if got := bySigners(); !slices.Equal(got[f1.Release.ReleaseID], signed) || len(got) != 2 {
		t.Fatalf("after refused pushes: %+v", got)
	}
}
