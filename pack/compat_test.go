package pack

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// A pack written the way the existing epack tool writes one (archive/zip
// CreateHeader with data descriptors, deflated manifest, stored artifacts/
// folder, deflated artifacts, Go JSON with HTML escaping, sources[].artifacts
// as a list of paths) opens and verifies with the same digests.
func TestUpstreamStylePack(t *testing.T) {
	arts := []art{{"artifacts/github/repos.json", []byte(`[{"name":"api","private":true}]`)}, {"artifacts/aws/iam.json", []byte(`{"users":3}`)}}
	m := testManifest(arts...)
	m.Sources = []Source{{Name: "github", Version: "1.0.0", Artifacts: &SourceArtifacts{Paths: []string{"artifacts/github/repos.json"}}}}
	m.Artifacts[0].Description = "<repos> & more"
	m.Artifacts[0].Controls = []string{"CC6.1", "CC6.1"}
	raw, _ := json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate})
	w.Write(raw)
	zw.CreateHeader(&zip.FileHeader{Name: "artifacts/", Method: zip.Store})
	for _, a := range []art{arts[1], arts[0]} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: a.path, Method: zip.Deflate})
		w.Write(a.data)
	}
	zw.Close()
	p, err := openBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, _ := ManifestDigest(raw)
	if p.ManifestDigest() != want || p.Manifest().PackDigest != ComputePackDigest(p.Artifacts()) {
		t.Fatal("digests differ")
	}
	if got := p.Manifest().Sources[0].Artifacts.Paths; len(got) != 1 {
		t.Fatal(got)
	}
}
