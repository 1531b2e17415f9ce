package pack

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// interopFiles are the files of the pack the real writers below zip up.
var interopFiles = []art{
	{"artifacts/a.json", []byte(`{"a":1}`)},
	{"artifacts/sub/b.csv", []byte("x,y\n1,2\n")},
	{"artifacts/café.json", []byte(`{"c":"` + strings.Repeat("é", 300) + `"}`)},
}

// writeInteropTree writes manifest.json and the artifacts under dir and
// returns their names.
func writeInteropTree(t *testing.T, dir string) []string {
	t.Helper()
	names := []string{"manifest.json"}
	files := map[string][]byte{"manifest.json": mustJSON(t, testManifest(interopFiles...))}
	for _, a := range interopFiles {
		names = append(names, a.path)
		files[a.path] = a.data
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// pyZip writes with Python's zipfile; "stream" makes the output unseekable,
// so entries get data descriptors, and "zip64" forces ZIP64 headers.
const pyZip = `
import io, sys, zipfile
mode, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
class Pipe(io.RawIOBase):
    def __init__(self, f): self.f = f
    def writable(self): return True
    def write(self, b): return self.f.write(b)
with open(out, 'wb') as f:
    with zipfile.ZipFile(Pipe(f) if 'stream' in mode else f, 'w', zipfile.ZIP_DEFLATED) as z:
        for n in names:
            with open(n, 'rb') as src, z.open(n, 'w', force_zip64='zip64' in mode) as w:
                w.write(src.read())
`

// Packs written by the tools people really use (Go's archive/zip, Python's
// zipfile with and without ZIP64 and data descriptors, Info-ZIP zip(1)
// plain, ZIP64, to a pipe, jar) still open and verify with the stricter
// local-header, descriptor, Unicode Path and file-type checks, and a
// streaming reader (ours, and jar x when installed) extracts exactly the
// verified bytes. Missing tools skip their case.
func TestRealWritersStillVerify(t *testing.T) {
	py := []string{"python3", "-c", pyZip}
	writers := []struct {
		name string
		cmd  []string // run in the tree; OUT and NAMES are replaced; nil means archive/zip
		pipe bool     // the command writes the archive to stdout, through a pipe
	}{
		{"archive/zip", nil, false},
		{"python zipfile", append(py, "plain", "OUT", "NAMES"), false},
		{"python zipfile zip64", append(py, "zip64", "OUT", "NAMES"), false},
		{"python zipfile streamed", append(py, "stream", "OUT", "NAMES"), false},
		{"python zipfile streamed zip64", append(py, "stream zip64", "OUT", "NAMES"), false},
		{"zip", []string{"zip", "-q", "-r", "OUT", "manifest.json", "artifacts"}, false},
		{"zip -fz", []string{"zip", "-q", "-fz", "-r", "OUT", "manifest.json", "artifacts"}, false},
		{"zip to a pipe", []string{"zip", "-q", "-r", "-", "manifest.json", "artifacts"}, true},
		{"zip -fd", []string{"zip", "-q", "-fd", "-r", "OUT", "manifest.json", "artifacts"}, false},
		// Not "zip -fz" to a pipe: zip 3.0 then writes entry offsets that
		// unzip and Python's zipfile cannot read either.
		{"jar", []string{"jar", "--create", "--no-manifest", "--file", "OUT", "manifest.json", "artifacts"}, false},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			if w.cmd != nil {
				if _, err := exec.LookPath(w.cmd[0]); err != nil {
					t.Skipf("%s not installed", w.cmd[0])
				}
			}
			src := t.TempDir()
			names := writeInteropTree(t, src)
			out := filepath.Join(t.TempDir(), "p.epack")
			if w.cmd == nil {
				writeGoZip(t, src, names, out)
			} else {
				runWriter(t, src, out, names, w.cmd, w.pipe)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			p, err := openBytes(b)
			if err != nil {
				t.Fatalf("pack written by %s refused: %v", w.name, err)
			}
			if err := p.VerifyIntegrity(t.Context()); err != nil {
				t.Fatalf("pack written by %s does not verify: %v", w.name, err)
			}
			if err := checkStreamView(p, b); err != nil {
				t.Fatal(err)
			}
			// jar failing loudly is fine (it cannot stream Python's ZIP64
			// descriptors); extracting other bytes silently is not.
			if got, ok := jarExtract(t, out); ok {
				for _, a := range interopFiles {
					if !bytes.Equal(got[a.path], a.data) {
						t.Errorf("jar x extracts %s as %q", a.path, got[a.path])
					}
				}
			}
		})
	}
}

func writeGoZip(t *testing.T, src string, names []string, out string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runWriter(t *testing.T, dir, out string, names, cmd []string, pipe bool) {
	t.Helper()
	var args []string
	for _, a := range cmd[1:] {
		switch a {
		case "OUT":
			args = append(args, out)
		case "NAMES":
			args = append(args, names...)
		default:
			args = append(args, a)
		}
	}
	c := exec.Command(cmd[0], args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if pipe {
		stdout, err := c.Output() // a pipe: not seekable
		if err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, stderr.Bytes())
		}
		if err := os.WriteFile(out, stdout, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := c.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.Bytes())
	}
}

// jarExtract runs "jar x" on the archive at path, given on stdin so jar
// reads it as a stream (java.util.zip.ZipInputStream; with --file it would
// use the central directory), and returns the regular files it wrote and
// whether it succeeded. It reports false when jar is not installed.
func jarExtract(t *testing.T, path string) (map[string][]byte, bool) {
	t.Helper()
	if _, err := exec.LookPath("jar"); err != nil {
		return nil, false
	}
	dir := t.TempDir()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	c := exec.Command("jar", "--extract")
	c.Dir = dir
	c.Stdin = in
	out, err := c.CombinedOutput()
	if err != nil {
		t.Logf("jar x: %v: %s", err, out)
	}
	got := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	return got, err == nil
}

// What a streaming reader makes of packs whose local headers lie: our own
// streaming reader (and jar x, when installed, logged) extracts other bytes
// or other names than the central directory promises, and Open refuses
// each of them.
func TestStreamingReadersSeeOtherContent(t *testing.T) {
	data := sample[0].data
	cases := []struct {
		name string
		mod  func(e *ziptest.Entry)
	}{
		{"local sizes cut the content short", func(e *ziptest.Entry) {
			e.Local = ziptest.Local{CompressedSize: ziptest.U32(2), UncompressedSize: ziptest.U32(2), CRC32: ziptest.U32(crc32.ChecksumIEEE(data[:2]))}
		}},
		{"local Unicode Path renames it manifest.json", func(e *ziptest.Entry) {
			e.LocalExtra = ziptest.UnicodePath(e.Name, "manifest.json")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := packWith(t, tc.mod)
			names, got, err := streamEntries(b)
			if err == nil && bytes.Equal(got[sample[0].path], data) && !slices.Contains(names[1:], "manifest.json") {
				t.Fatalf("test pack is not hostile: a streaming reader sees %q", names)
			}
			if _, err := openBytes(b); err == nil {
				t.Fatal("pack accepted")
			}
			path := filepath.Join(t.TempDir(), "p.epack")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if got, ok := jarExtract(t, path); ok {
				t.Logf("jar x extracts %s as %q (verified content %q)", sample[0].path, got[sample[0].path], data)
			}
		})
	}
}
