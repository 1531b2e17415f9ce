package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pack"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func artifactPaths(t *testing.T, path string) []string {
	t.Helper()
	p, err := pack.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out []string
	for _, a := range p.Manifest().Artifacts {
		out = append(out, a.Path)
	}
	return out
}

func TestBuildFoldersStreamAndOverwrite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("epack.yaml", []byte("stream: acme/prod\nremotes:\n  local: {adapter: filesystem}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTree(t, filepath.Join(dir, "evidence"), map[string]string{
		"aws/iam.json": `{"a":1}`, "aws/s3.json": `{"b":2}`, "github/repos.csv": "x\n",
		"notes.tmp": "draft", "drafts/wip.json": "{}",
	})
	// No --stream: stream: from epack.yaml. A folder is added recursively
	// and sorted, --exclude by name glob and by path glob.
	so, se, code := epackRun(t, "", "build", "p.epack", "evidence", "--exclude", "*.tmp", "--exclude", "drafts", "--json")
	if code != 0 {
		t.Fatalf("build: %d %s %s", code, so, se)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(so), &res); err != nil {
		t.Fatal(err)
	}
	if res["stream"] != "acme/prod" || !strings.HasPrefix(res["file_digest"].(string), "sha256:") || res["path"] == nil {
		t.Fatalf("build --json: %v", res)
	}
	want := "artifacts/aws/iam.json,artifacts/aws/s3.json,artifacts/github/repos.csv"
	if got := strings.Join(artifactPaths(t, "p.epack"), ","); got != want {
		t.Fatalf("artifacts %s, want %s", got, want)
	}
	if st, err := os.Stat("p.epack"); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("pack mode: %v %v", st.Mode(), err)
	}
	// An existing pack is kept without --force.
	before, _ := os.ReadFile("p.epack")
	_, se, code = epackRun(t, "", "build", "p.epack", "evidence/aws/iam.json")
	if code == 0 || !strings.Contains(se, "already exists") || !strings.Contains(se, "--force") {
		t.Fatalf("overwrite without --force: %d %s", code, se)
	}
	if after, _ := os.ReadFile("p.epack"); string(after) != string(before) {
		t.Fatal("the existing pack changed")
	}
	if _, se, code = epackRun(t, "", "build", "p.epack", "evidence/aws/iam.json", "--force"); code != 0 {
		t.Fatalf("--force: %s", se)
	}
	if got := strings.Join(artifactPaths(t, "p.epack"), ","); got != "artifacts/iam.json" {
		t.Fatalf("after --force: %s", got)
	}
	// Two inputs with one name: the error says how to rename.
	writeTree(t, filepath.Join(dir, "other"), map[string]string{"iam.json": "{}"})
	_, se, code = epackRun(t, "", "build", "q.epack", "evidence/aws/iam.json", "other/iam.json")
	if code != exitstatus.BadInput || !strings.Contains(se, "--file") || !strings.Contains(se, "artifacts/iam.json") {
		t.Fatalf("duplicate name: %d %s", code, se)
	}
	// A symbolic link inside a folder is refused, not followed.
	if err := os.Symlink(filepath.Join(dir, "epack.yaml"), filepath.Join(dir, "evidence", "link.json")); err != nil {
		t.Fatal(err)
	}
	_, se, code = epackRun(t, "", "build", "r.epack", "evidence")
	if code == 0 || !strings.Contains(se, "symbolic link") {
		t.Fatalf("symlink in folder: %d %s", code, se)
	}
	if _, err := os.Stat("r.epack"); err == nil {
		t.Fatal("a pack was written despite the error")
	}
}

func TestBuildWithoutStreamAnywhere(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeTree(t, dir, map[string]string{"a.json": "{}"})
	_, se, code := epackRun(t, "", "build", "p.epack", "a.json")
	if code != exitstatus.BadInput || !strings.Contains(se, "--stream") || !strings.Contains(se, "epack.yaml") {
		t.Fatalf("no stream: %d %s", code, se)
	}
}

func TestBuildNamesTheArtifactLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(pack.MaxArtifactSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, se, code := epackRun(t, "", "build", filepath.Join(dir, "p.epack"), big, "--stream", "acme/prod")
	if code == 0 || !strings.Contains(se, "100 MiB") {
		t.Fatalf("oversized artifact: %d %s", code, se)
	}
}
