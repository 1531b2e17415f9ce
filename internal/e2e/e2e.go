// Package e2e holds helpers for end-to-end tests: it builds the real epack
// binaries and a configurable test adapter once per test process, creates
// throw-away projects, and writes valid evidence packs.
package e2e

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/testkit"
)

// programs are what BinDir provides: epack, the shipped adapters and the
// configurable test adapter, named as a project finds them.
var programs = []string{
	"./cmd/epack",
	"./cmd/epack-remote-filesystem",
	"./cmd/epack-remote-s3",
	"./cmd/epack-remote-oci",
	"epack-remote-test=./internal/e2e/testadapter",
}

// BinDir builds (once per process, through internal/testkit) epack, the
// shipped adapters and the test adapter "epack-remote-test" and returns
// their folder. dir is the folder Main stored; it is checked, so a test
// that made its own folder learns the binaries are not there.
func BinDir(t testing.TB, dir string) string {
	t.Helper()
	bin, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Build is BinDir for code without a testing.TB (Example functions): it
// returns the folder or the build error.
func Build(dir string) (string, error) {
	bin, err := testkit.Build(programs...)
	if err != nil {
		return "", err
	}
	if dir != "" && filepath.Clean(dir) != filepath.Clean(bin) {
		return "", fmt.Errorf("e2e: binaries are in %s, not %s: pass the folder e2e.Main stored", bin, dir)
	}
	return bin, nil
}

// File is one artifact of a test pack.
type File struct {
	Name string // below artifacts/
	Data []byte
}

// WritePack writes a valid evidence pack with the given stream and files.
func WritePack(t testing.TB, path, stream string, files ...File) {
	t.Helper()
	type art struct {
		Type   string `json:"type"`
		Path   string `json:"path"`
		Digest string `json:"digest"`
		Size   int    `json:"size"`
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	var arts []art
	var digestInput strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		a := art{"embedded", "artifacts/" + f.Name, "sha256:" + hex.EncodeToString(sum[:]), len(f.Data)}
		arts = append(arts, a)
		digestInput.WriteString(a.Path + "\t" + a.Digest + "\n")
	}
	if arts == nil {
		arts = []art{}
	}
	pd := sha256.Sum256([]byte(digestInput.String()))
	manifest := map[string]any{
		"spec_version": "1.0", "stream": stream,
		"generated_at": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"pack_digest":  "sha256:" + hex.EncodeToString(pd[:]),
		"sources":      []any{}, "artifacts": arts,
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	w, _ := zw.Create("manifest.json")
	w.Write(mb)
	zw.CreateHeader(&zip.FileHeader{Name: "artifacts/", Method: zip.Store})
	for _, f := range files {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "artifacts/" + f.Name, Method: zip.Store})
		w.Write(f.Data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Project creates a project folder with the given epack.yaml text and
// returns its path. "{{BIN}}" in the text is replaced by binDir.
func Project(t testing.TB, bin, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	yaml = strings.ReplaceAll(yaml, "{{BIN}}", bin)
	if err := os.WriteFile(filepath.Join(dir, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// FileSHA256 returns "sha256:<hex>" of a file.
func FileSHA256(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// ZipEntry returns the bytes of entry name in the ZIP file at path.
func ZipEntry(t testing.TB, path, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s in %s: %v", name, path, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ReadLog returns the JSON requests the test adapter recorded in stateDir.
func ReadLog(t testing.TB, stateDir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "requests.log"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// Runner is what TestMain runs: *testing.M or a wrapper around it.
type Runner interface{ Run() int }

// Main is for a package's TestMain: it makes the folder BinDir builds into
// (stored in *dir), runs the tests and removes the folder.
//
//	func TestMain(m *testing.M) { os.Exit(e2e.Main(m, &binDir)) }
func Main(m Runner, dir *string) int {
	d, err := testkit.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*dir = d
	return testkit.Main(m)
}

// TestRemote configures remote "t" of a NewTestProject, which runs the
// configurable test adapter (internal/e2e/testadapter).
type TestRemote struct {
	// Ext holds extra members of the adapter's extensions object, e.g. `"skip":true`.
	Ext string
	// YAML holds extra lines inside the remote, indented four spaces.
	YAML string
	// LoopbackHTTP sets transport.allow_loopback_http.
	LoopbackHTTP bool
}

// TestProject is a project whose remote "t" runs the test adapter with a
// file_root registry. The adapter logs its requests in State (see ReadLog).
type TestProject struct {
	Root, Registry, State string
}

// NewTestProject creates the project in a temp folder; bin is BinDir's folder.
func NewTestProject(t testing.TB, bin string, r TestRemote) *TestProject {
	t.Helper()
	p := &TestProject{Root: Project(t, bin, "")}
	p.Registry = filepath.Join(p.Root, "registry")
	p.State = filepath.Join(p.Root, "state")
	for _, d := range []string{p.Registry, p.State} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ext := `{"state_dir":"` + p.State + `"`
	if r.Ext != "" {
		ext += "," + r.Ext
	}
	ext += "}"
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  t:\n    binary: %s\n    target: {workspace: acme, environment: prod}\n    transport:\n      file_root: %s\n      allow_loopback_http: %v\n%s    extensions: %s\n",
		filepath.Join(bin, "epack-remote-test"), p.Registry, r.LoopbackHTTP, r.YAML, ext)
	if err := os.WriteFile(filepath.Join(p.Root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
