package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pack"
)

// runCmd runs epack in process on test streams and returns stdout, stderr
// and the exit status.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	clearEnv(t)
	ios, _, out, errOut := NewTestIOStreams()
	code := RunWith(context.Background(), args, ios)
	return out.String(), errOut.String(), code
}

// realTempDir is t.TempDir with symbolic links resolved (macOS /var), so
// that a link the test finds is one it planted.
func realTempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// writeRawPack writes a ZIP whose manifest lists every entry of files (full
// entry names, digests of their data) and whose archive holds exactly those
// entries, without any of the builder's checks: for hostile packs.
func writeRawPack(t *testing.T, path string, files ...e2e.File) {
	t.Helper()
	type art struct {
		Type   string `json:"type"`
		Path   string `json:"path"`
		Digest string `json:"digest"`
		Size   int    `json:"size"`
	}
	arts := []art{}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		arts = append(arts, art{"embedded", f.Name, "sha256:" + hex.EncodeToString(sum[:]), len(f.Data)})
	}
	sorted := append([]art(nil), arts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var in strings.Builder
	for _, a := range sorted {
		in.WriteString(a.Path + "\t" + a.Digest + "\n")
	}
	pd := sha256.Sum256([]byte(in.String()))
	mb, err := json.Marshal(map[string]any{"spec_version": "1.0", "stream": "acme/hostile", "generated_at": "2025-02-01T09:00:00Z",
		"pack_digest": "sha256:" + hex.EncodeToString(pd[:]), "sources": []any{}, "artifacts": arts})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("manifest.json")
	w.Write(mb)
	zw.CreateHeader(&zip.FileHeader{Name: "artifacts/", Method: zip.Store})
	for _, f := range files {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		w.Write(f.Data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperEntry rewrites one entry of the pack at path with bytes of the same
// size that no longer match the manifest digest; the ZIP stays consistent.
func tamperEntry(t *testing.T, path, entry string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == entry {
			data = bytes.Repeat([]byte("x"), len(data))
			found = true
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zr.Close()
	if !found {
		t.Fatalf("%s has no entry %s", path, entry)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// builtPack writes a pack with the real builder (content types set).
func builtPack(t *testing.T, path string) {
	t.Helper()
	b := pack.NewBuilder("acme/prod")
	b.AddSource("aws", "1.2.0")
	if err := b.AddBytes("iam.json", []byte(`{"users":3}`), pack.ArtifactOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddBytes("reviews/q1.md", []byte("# Q1\n"), pack.ArtifactOptions{ContentType: "text/markdown\x1b[31m"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddBytes("repos.csv", []byte("a,b\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
}

func TestListArgs(t *testing.T) {
	clearEnv(t)
	cases := []struct {
		name string
		args []string
		want string // the pack path parsed; "" means a usage error
		long bool
	}{
		{"pack", []string{"list", "a.epack"}, "a.epack", false},
		{"existing tool's spelling", []string{"list", "artifacts", "a.epack"}, "a.epack", false},
		{"a pack named artifacts", []string{"list", "artifacts"}, "artifacts", false},
		{"long", []string{"list", "-l", "a.epack"}, "a.epack", true},
		{"other kind", []string{"list", "sources", "a.epack"}, "", false},
		{"no pack", []string{"list"}, "", false},
		{"too many", []string{"list", "artifacts", "a", "b"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := parseWith(t, newCmdList, c.args...)
			if c.want == "" {
				if err == nil || got != nil {
					t.Fatalf("want a usage error, got %v %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := got.(*listOptions)
			if o.Path != c.want || o.Long != c.long {
				t.Errorf("parsed %+v", o)
			}
		})
	}
}

func TestList(t *testing.T) {
	dir := realTempDir(t)
	built := filepath.Join(dir, "built.epack")
	builtPack(t, built)
	empty := filepath.Join(dir, "empty.epack")
	e2e.WritePack(t, empty, "acme/empty")
	traversal := filepath.Join(dir, "traversal.epack")
	writeRawPack(t, traversal, e2e.File{Name: "artifacts/../evil.json", Data: []byte("{}")})
	tampered := filepath.Join(dir, "tampered.epack")
	e2e.WritePack(t, tampered, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	tamperEntry(t, tampered, "artifacts/a.json")

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		not    []string
		check  func(t *testing.T, stdout string)
	}{
		{name: "table", args: []string{"list", built}, stdout: []string{
			"PATH", "SIZE", "TYPE", "DIGEST", "artifacts/iam.json", "11 B", "application/json",
			"artifacts/repos.csv", "artifacts/reviews/q1.md", `text/markdown\x1b[31m`, "3 artifact(s)",
		}, not: []string{"\x1b"}},
		{name: "existing tool's spelling", args: []string{"list", "artifacts", built}, stdout: []string{"artifacts/iam.json"}},
		{name: "long digests", args: []string{"list", "-l", built}, check: func(t *testing.T, out string) {
			p, _ := pack.Open(built)
			defer p.Close()
			for _, a := range p.Artifacts() {
				if !strings.Contains(out, a.Digest) {
					t.Errorf("no full digest %s", a.Digest)
				}
			}
		}},
		{name: "json", args: []string{"list", built, "--json"}, check: func(t *testing.T, out string) {
			var arts []map[string]any
			if err := json.Unmarshal([]byte(out), &arts); err != nil {
				t.Fatalf("not a JSON array: %v\n%s", err, out)
			}
			if len(arts) != 3 {
				t.Fatalf("%d artifacts", len(arts))
			}
			for _, a := range arts {
				for _, k := range []string{"type", "path", "digest", "size"} {
					if _, ok := a[k]; !ok {
						t.Errorf("artifact %v lacks %q", a, k)
					}
				}
			}
			if arts[0]["path"] != "artifacts/iam.json" || arts[0]["type"] != "embedded" || arts[0]["size"] != float64(11) || arts[0]["content_type"] != "application/json" {
				t.Errorf("first artifact %v", arts[0])
			}
		}},
		{name: "json, no artifacts", args: []string{"list", "artifacts", empty, "--json"}, check: func(t *testing.T, out string) {
			if strings.TrimSpace(out) != "[]" {
				t.Errorf("want [], got %q", out)
			}
		}},
		{name: "no artifacts", args: []string{"list", empty}, stdout: []string{"No artifacts in"}},
		{name: "quiet", args: []string{"list", built, "-q"}, check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("quiet printed %q", out)
			}
		}},
		// Opened with every rule: a traversing entry is refused.
		{name: "hostile path", args: []string{"list", traversal}, code: 2},
		// Like inspect, list does not re-hash artifacts.
		{name: "tampered bytes are not hashed", args: []string{"list", tampered}, stdout: []string{"artifacts/a.json"}},
		{name: "missing pack", args: []string{"list", filepath.Join(dir, "nope.epack")}, code: 2},
		{name: "usage", args: []string{"list", "sources", built}, code: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, out, errOut)
			}
			for _, s := range c.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range c.not {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%q", s, out)
				}
			}
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}
