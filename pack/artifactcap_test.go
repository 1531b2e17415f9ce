package pack

import (
	"context"
	"fmt"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// capPack describes a pack for the artifact cap: files under artifacts/,
// how many of them the manifest lists (and how many it lists that the
// archive lacks), folder entries under artifacts/ and attestation files.
type capPack struct {
	files, listed, phantom, dirs, attestations int
}

func (c capPack) build(t testing.TB) []byte {
	t.Helper()
	arts := make([]art, c.files)
	for i := range arts {
		// Ten folders, so folder entries below have something to name.
		arts[i] = art{fmt.Sprintf("artifacts/d%d/f%05d.txt", i%10, i), []byte(fmt.Sprint(i))}
	}
	listed := append([]art(nil), arts[:c.listed]...)
	for i := 0; i < c.phantom; i++ {
		listed = append(listed, art{fmt.Sprintf("artifacts/missing%d.txt", i), []byte("x")})
	}
	es := []ziptest.Entry{ziptest.File("manifest.json", mustJSON(t, testManifest(listed...))), ziptest.Dir("artifacts/")}
	for i := 0; i < c.dirs; i++ {
		es = append(es, ziptest.Dir(fmt.Sprintf("artifacts/d%d/", i%10)))
	}
	for _, a := range arts {
		es = append(es, ziptest.File(a.path, a.data))
	}
	for i := 0; i < c.attestations; i++ {
		es = append(es, ziptest.File(fmt.Sprintf("attestations/k%04d.sigstore.json", i), []byte("{}")))
	}
	return ziptest.Build(es...)
}

// The cap counts files under artifacts/ (COMPAT §1.9 step 6), not entries:
// folder entries, manifest.json and attestations do not count, and it is
// checked before the manifest is compared with the archive.
func TestArtifactCap(t *testing.T) {
	for _, tc := range []struct {
		name string
		pack capPack
		code errcode.Code // "" = opens and verifies
	}{
		{"exactly the limit", capPack{files: MaxArtifacts, listed: MaxArtifacts}, ""},
		{"limit, with folder entries and attestations", capPack{files: MaxArtifacts, listed: MaxArtifacts, dirs: 10, attestations: 4000}, ""},
		{"one over", capPack{files: MaxArtifacts + 1, listed: MaxArtifacts + 1}, errcode.TooManyArtifacts},
		{"one over, manifest lists fewer", capPack{files: MaxArtifacts + 1, listed: MaxArtifacts}, errcode.TooManyArtifacts},
		{"manifest lists one more than the archive holds", capPack{files: MaxArtifacts, listed: MaxArtifacts, phantom: 1}, errcode.MissingEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := openBytes(tc.pack.build(t))
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			defer p.Close()
			if n := len(p.Artifacts()); n != tc.pack.listed {
				t.Fatalf("%d artifacts, want %d", n, tc.pack.listed)
			}
			if err := p.VerifyIntegrity(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
