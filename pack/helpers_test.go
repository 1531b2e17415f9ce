package pack

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

type art struct {
	path string
	data []byte
}

func testManifest(arts ...art) *Manifest {
	m := &Manifest{SpecVersion: "1.0", Stream: "test/stream", GeneratedAt: "2026-01-20T12:00:00Z",
		Sources: []Source{}, Artifacts: []Artifact{}}
	for _, a := range arts {
		m.Artifacts = append(m.Artifacts, Artifact{Type: "embedded", Path: a.path, Digest: DigestBytes(a.data), Size: int64(len(a.data))})
	}
	m.PackDigest = ComputePackDigest(m.Artifacts)
	return m
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zipPack returns a pack: manifest.json, artifacts/, one stored entry per art, then extra.
func zipPack(t testing.TB, manifest []byte, arts []art, extra ...ziptest.Entry) []byte {
	t.Helper()
	es := []ziptest.Entry{ziptest.File("manifest.json", manifest), ziptest.Dir("artifacts/")}
	for _, a := range arts {
		es = append(es, ziptest.Entry{Name: a.path, Data: a.data, Deflate: len(a.data) > 0})
	}
	return ziptest.Build(append(es, extra...)...)
}

func openBytes(b []byte) (*Pack, error) { return OpenReaderAt(bytes.NewReader(b), int64(len(b))) }

// wantCode is the shared assertion of internal/testkit: err carries code
// as its outermost errcode, and its text mentions each given substring.
var wantCode = testkit.WantCode

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.epack")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
