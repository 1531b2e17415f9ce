package pack

import (
	"context"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

var sample = []art{{"artifacts/a.json", []byte(`{"a":1}`)}, {"artifacts/sub/b.csv", []byte("x,y\n1,2\n")}}

func TestOpenValid(t *testing.T) {
	b := zipPack(t, mustJSON(t, testManifest(sample...)), sample,
		ziptest.Dir("attestations/"), ziptest.File("attestations/k.sigstore.json", []byte(`{}`)))
	p, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.Attestations(); len(got) != 1 || got[0] != "attestations/k.sigstore.json" {
		t.Fatalf("attestations %v", got)
	}
	data, err := p.ReadArtifact("artifacts/sub/b.csv")
	if err != nil || string(data) != "x,y\n1,2\n" {
		t.Fatalf("%q %v", data, err)
	}
	if !strings.HasPrefix(p.ManifestDigest(), "sha256:") || len(p.ManifestDigest()) != 71 {
		t.Fatal(p.ManifestDigest())
	}
	m := p.Manifest()
	m.Artifacts[0].Digest = "sha256:" + strings.Repeat("0", 64)
	m.Stream = "changed"
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal("manifest copy changed the pack:", err)
	}
	if _, err := p.ReadArtifact("artifacts/nope"); errcode.Of(err) != errcode.MissingEntry {
		t.Fatal(err)
	}
	if p.Close() != nil || p.Close() != nil {
		t.Fatal("close")
	}
}

func TestOpenEmptyPack(t *testing.T) {
	p, err := openBytes(zipPack(t, mustJSON(t, testManifest()), nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenHostile(t *testing.T) {
	good := mustJSON(t, testManifest(sample...))
	one := []art{sample[0]}
	oneM := mustJSON(t, testManifest(one...))
	bomb := []byte(strings.Repeat(" ", 1<<20))
	tests := []struct {
		name string
		zip  []byte
		code errcode.Code
	}{
		{"not a zip", []byte("This is not a ZIP file"), errcode.NotAZip},
		{"empty file", nil, errcode.NotAZip},
		{"truncated", zipPack(t, good, sample)[:100], errcode.NotAZip},
		{"no manifest", ziptest.Build(ziptest.Dir("artifacts/"), ziptest.File("artifacts/a.json", nil)), errcode.MissingRequiredField},
		{"no artifacts dir", ziptest.Build(ziptest.File("manifest.json", mustJSON(t, testManifest()))), errcode.MissingRequiredField},
		{"manifest in folder", ziptest.Build(ziptest.File("data/manifest.json", good), ziptest.Dir("artifacts/")), errcode.InvalidPath},
		{"extra top-level", zipPack(t, good, sample, ziptest.File("extra.txt", nil)), errcode.InvalidPath},
		{"extra folder", zipPack(t, good, sample, ziptest.Dir("extra/")), errcode.InvalidPath},
		{"attestation subdir", zipPack(t, good, sample, ziptest.File("attestations/sub/x.sigstore.json", nil)), errcode.InvalidPath},
		{"attestation ext", zipPack(t, good, sample, ziptest.File("attestations/x.json", nil)), errcode.InvalidPath},
		{"attestation empty stem", zipPack(t, good, sample, ziptest.File("attestations/.sigstore.json", nil)), errcode.InvalidPath},
		{"missing artifact", zipPack(t, good, one), errcode.MissingEntry},
		{"unlisted artifact", zipPack(t, oneM, sample), errcode.InvalidPath},
		{"duplicate name", zipPack(t, oneM, one, ziptest.File("artifacts/a.json", []byte(`{"a":1}`))), errcode.DuplicatePath},
		{"case collision", zipPack(t, oneM, one, ziptest.File("artifacts/A.json", nil)), errcode.DuplicatePath},
		{"trailing-dot collision", zipPack(t, oneM, one, ziptest.File("artifacts/a.json.", nil)), errcode.InvalidPath},
		{"dotdot", zipPack(t, good, sample, ziptest.File("artifacts/../etc/passwd", nil)), errcode.InvalidPath},
		{"absolute", zipPack(t, good, sample, ziptest.File("/artifacts/test.json", nil)), errcode.InvalidPath},
		{"parent", zipPack(t, good, sample, ziptest.File("../test.json", nil)), errcode.InvalidPath},
		{"backslash", zipPack(t, good, sample, ziptest.File(`artifacts\x.json`, nil)), errcode.InvalidPath},
		{"nfd name", zipPack(t, good, sample, ziptest.File("artifacts/cafe\u0301.json", nil)), errcode.InvalidPath},
		{"reserved", zipPack(t, good, sample, ziptest.File("artifacts/con.txt", nil)), errcode.InvalidPath},
		{"appledouble", zipPack(t, good, sample, ziptest.File("artifacts/._a.json", nil)), errcode.InvalidPath},
		{"macosx", zipPack(t, good, sample, ziptest.File("__MACOSX/x", nil)), errcode.InvalidPath},
		{"symlink", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/link", Data: []byte("/etc/passwd"), Mode: 0o120777}), errcode.InvalidPath},
		{"char device", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/dev", Mode: 0o020666}), errcode.InvalidPath},
		{"block device", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/dev", Mode: 0o060660}), errcode.InvalidPath},
		{"fifo", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/fifo", Mode: 0o010666}), errcode.InvalidPath},
		{"dir mode without slash", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/d", Mode: 0o040755}), errcode.InvalidPath},
		{"dos dir without slash", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/d", DOS: 0x10}), errcode.InvalidPath},
		{"file mode with slash", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/d/", Mode: 0o100644}), errcode.InvalidPath},
		{"dir with data", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/d/", UncompressedSize: ziptest.U32(100)}), errcode.InvalidPath},
		{"bomb", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/big", Data: bomb, Deflate: true}), errcode.ZipBomb},
		{"zero compressed", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/z", Data: []byte("abc"), CompressedSize: ziptest.U32(0), Raw: []byte{}}), errcode.ZipBomb},
		{"encrypted", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/e", Data: []byte("x"), Flags: 1}), errcode.NotAZip},
		{"bad method", zipPack(t, good, sample, ziptest.Entry{Name: "artifacts/e", Data: []byte("x"), Method: ziptest.U16(12)}), errcode.NotAZip},
		{"manifest too big", ziptest.Build(ziptest.Entry{Name: "manifest.json", Data: []byte("{}"), UncompressedSize: ziptest.U32(MaxManifestSize + 1), CompressedSize: ziptest.U32(MaxManifestSize)}, ziptest.Dir("artifacts/")), errcode.ArtifactTooLarge},
		{"bad manifest json", zipPack(t, []byte("{"), nil), errcode.InvalidJSON},
		{"dup manifest keys", zipPack(t, []byte(`{"stream":"a","stream":"b"}`), nil), errcode.DuplicateKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openBytes(tt.zip)
			wantCode(t, err, tt.code)
		})
	}
}

func TestRatioBoundary(t *testing.T) {
	c := func(u, comp uint32) []byte {
		m := mustJSON(t, testManifest())
		return zipPack(t, m, nil, ziptest.Entry{Name: "attestations/x.sigstore.json", Raw: make([]byte, comp), UncompressedSize: ziptest.U32(u)})
	}
	// Exactly 100:1 passes the ratio check (and the pack opens: attestations are not read).
	if _, err := openBytes(c(200, 2)); err != nil {
		t.Fatal(err)
	}
	_, err := openBytes(c(201, 2))
	wantCode(t, err, errcode.ZipBomb)
}

func TestTooManyEntries(t *testing.T) {
	es := []ziptest.Entry{ziptest.File("manifest.json", mustJSON(t, testManifest())), ziptest.Dir("artifacts/")}
	for i := 0; i < MaxEntries; i++ {
		es = append(es, ziptest.File("attestations/"+strings.Repeat("x", 1)+itoa(i)+".sigstore.json", nil))
	}
	_, err := openBytes(ziptest.Build(es...))
	wantCode(t, err, errcode.TooManyArtifacts)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestW1StringArrays(t *testing.T) {
	raw := `{"spec_version":"1.0","stream":"s","generated_at":"2026-01-20T12:00:00Z",` +
		`"pack_digest":"@PD@","sources":[{"name":"x","version":"1","artifacts":["stream","artifacts/a.json"]}],` +
		`"artifacts":[{"type":"embedded","path":"artifacts/a.json","digest":"@AD@","size":7,"controls":["A","B","C","B"]}]}`
	a := sample[0]
	raw = strings.Replace(raw, "@AD@", DigestBytes(a.data), 1)
	raw = strings.Replace(raw, "@PD@", ComputePackDigest([]Artifact{{Type: "embedded", Path: a.path, Digest: DigestBytes(a.data)}}), 1)
	p, err := openBytes(zipPack(t, []byte(raw), []art{a}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := p.Manifest().Artifacts[0].Controls; len(c) != 4 {
		t.Fatal(c)
	}
}
