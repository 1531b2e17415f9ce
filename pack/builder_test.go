package pack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

func fixedNow() time.Time { return time.Date(2026, 1, 20, 12, 0, 0, 500, time.UTC) }

func TestBuilderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "file.csv")
	os.WriteFile(src, []byte("a,b\n1,2\n"), 0o644)
	b := NewBuilder("org/team/prod")
	b.Now = fixedNow
	b.AddSource("aws", "1.2.0").AddSource("gh", "")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.AddBytes("z.json", []byte(`{"<tag>":"&"}`), ArtifactOptions{ContentType: "application/json", Description: "<tag> &", Controls: []string{"A", "B", "C", "B"}, CollectedAt: "2026-01-19T00:00:00Z"}))
	must(b.AddReader("nested/r.md", strings.NewReader("# hi\n")))
	must(b.AddFile("file.csv", src))
	must(b.AddBytes("empty", nil))
	wantCode(t, b.AddBytes("z.json", nil), errcode.DuplicatePath)
	wantCode(t, b.AddBytes("../x", nil), errcode.InvalidPath)
	wantCode(t, b.AddBytes("", nil), errcode.InvalidPath)
	wantCode(t, b.AddFile("missing", filepath.Join(dir, "nope")), errcode.InvalidInput)

	out := filepath.Join(dir, "new", "sub", "out.epack")
	res, err := b.WriteFile(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatal(st.Mode(), err)
	}
	// The file digests are those of the bytes on disk.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := SumFile(f)
	f.Close()
	if err != nil || sums != res.File {
		t.Fatalf("BuildResult.File %+v, file on disk %+v (%v)", res.File, sums, err)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.GeneratedAt != "2026-01-20T12:00:00Z" || m.Stream != "org/team/prod" || len(m.Artifacts) != 4 || m.Artifacts[0].Path != "artifacts/empty" {
		t.Fatalf("%+v", m)
	}
	if p.ManifestDigest() != res.ManifestDigest {
		t.Fatal("manifest digest")
	}
	raw := p.RawManifest()
	if !bytes.Contains(raw, []byte(`\u003ctag\u003e`)) || !bytes.HasPrefix(raw, []byte(`{"spec_version":"1.0","stream":"org/team/prod","generated_at":`)) {
		t.Fatalf("%s", raw)
	}
	if !bytes.Contains(raw, []byte(`"sources":[{"name":"aws","version":"1.2.0"},{"name":"gh","version":""}]`)) {
		t.Fatalf("%s", raw)
	}
	// Same inputs → same pack_digest; manifest bytes re-encode identically.
	b2 := NewBuilder("org/team/prod")
	must(b2.AddBytes("empty", nil))
	must(b2.AddFile("file.csv", src))
	must(b2.AddReader("nested/r.md", strings.NewReader("# hi\n")))
	must(b2.AddBytes("z.json", []byte(`{"<tag>":"&"}`)))
	m2, _, err := b2.Manifest()
	if err != nil || m2.PackDigest != m.PackDigest {
		t.Fatal("pack digest not stable", err)
	}
	var back Manifest
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(&back); !bytes.Equal(again, raw) {
		t.Fatalf("re-encode differs:\n%s\n%s", again, raw)
	}
	entries := p.zr.File
	if entries[0].Name != "manifest.json" || entries[1].Name != "artifacts/" || entries[2].Name != "artifacts/empty" {
		t.Fatal("layout")
	}
}

func TestBuilderEmptyAndErrors(t *testing.T) {
	dir := t.TempDir()
	b := NewBuilder("s")
	res, err := b.WriteFile(context.Background(), filepath.Join(dir, "e.epack"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.PackDigest != d0 {
		t.Fatal(res.Manifest.PackDigest)
	}
	_, err = NewBuilder("").WriteFile(context.Background(), filepath.Join(dir, "x.epack"))
	wantCode(t, err, errcode.InvalidInput)
	b = NewBuilder("s")
	b.AddBytes("File.txt", nil)
	wantCode(t, b.AddBytes("file.txt", nil), errcode.DuplicatePath)
	// Symlinked output folder.
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(dir, "link")
	os.Symlink(real, link)
	_, err = NewBuilder("s").WriteFile(context.Background(), filepath.Join(link, "x.epack"))
	wantCode(t, err, errcode.SymlinkNotAllowed)
	_, err = NewBuilder("s").WriteFile(context.Background(), filepath.Join(link, "deeper", "x.epack"))
	wantCode(t, err, errcode.SymlinkNotAllowed)
	if m, _ := filepath.Glob(filepath.Join(dir, "pack-*.zip")); len(m) != 0 {
		t.Fatal("temp files left", m)
	}
}

// W3: highly compressible data is stored so the reader's ratio limit holds.
func TestBuilderCompressibleStored(t *testing.T) {
	dir := t.TempDir()
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	src := filepath.Join(dir, "spaces.txt")
	os.WriteFile(src, spaces, 0o644)
	random := make([]byte, 300<<10)
	rand.Read(random)
	rsrc := filepath.Join(dir, "random.bin")
	os.WriteFile(rsrc, random, 0o644)
	b := NewBuilder("s")
	b.AddBytes("mem-spaces.txt", spaces)
	b.AddFile("file-spaces.txt", src)
	b.AddFile("random.bin", rsrc)
	b.AddBytes("text.json", bytes.Repeat([]byte(`{"k":"value"},`), 1000))
	out := filepath.Join(dir, "s.epack")
	if _, err := b.WriteFile(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBuilderCopiesInput(t *testing.T) {
	data := []byte("original")
	ctrl := []string{"A"}
	b := NewBuilder("s")
	b.AddBytes("x", data, ArtifactOptions{Controls: ctrl})
	data[0] = 'X'
	ctrl[0] = "Z"
	out := filepath.Join(t.TempDir(), "x.epack")
	if _, err := b.WriteFile(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	p, _ := Open(out)
	defer p.Close()
	got, err := p.ReadArtifact("artifacts/x")
	if err != nil || string(got) != "original" || p.Manifest().Artifacts[0].Controls[0] != "A" {
		t.Fatal(string(got), err)
	}
}

func TestBuilderFileChanged(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f.json")
	os.WriteFile(src, []byte(`{"v":1}`), 0o644)
	b := NewBuilder("s")
	b.AddFile("f.json", src)
	os.WriteFile(src, []byte(`{"v":2}`), 0o644)
	_, err := b.WriteFile(context.Background(), filepath.Join(dir, "o.epack"))
	wantCode(t, err, errcode.InvalidInput)
}

// NoReplace refuses an existing output and keeps it as it was.
func TestBuilderNoReplace(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "p.epack")
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder("acme/prod")
	b.NoReplace = true
	if err := b.AddBytes("a.txt", []byte("a")); err != nil {
		t.Fatal(err)
	}
	_, err := b.WriteFile(context.Background(), out)
	if errcode.Of(err) != errcode.OutputExists {
		t.Fatalf("err %v, want output_exists", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "keep me" {
		t.Fatalf("existing output changed: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("temp file left: %v", entries)
	}
	b.NoReplace = false
	if _, err := b.WriteFile(context.Background(), out); err != nil {
		t.Fatal(err)
	}
}
