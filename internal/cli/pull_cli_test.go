package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPullCLI(t *testing.T) {
	p := newProject(t, "")
	if _, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "-q"); code != 0 {
		t.Fatalf("push: %s", errOut)
	}
	out, errOut, code := p.run(t, "pull", "t", "--insecure-allow-unpinned")
	if code != 0 {
		t.Fatalf("pull exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Pulled from t in", "Output:  " + filepath.Join(p.root, "acme-evidence.epack"), "Verified",
		"  File digest: sha256:", "  Pack digest: sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[OK]  Downloading pack") {
		t.Errorf("stderr:\n%s", errOut)
	}
	// Existing output without --force: clear error, exit 1, file untouched.
	before, _ := os.ReadFile(filepath.Join(p.root, "acme-evidence.epack"))
	_, errOut, code = p.run(t, "pull", "t", "--insecure-allow-unpinned")
	if code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("overwrite without force: exit %d %s", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(p.root, "acme-evidence.epack"))
	if string(before) != string(after) {
		t.Error("file changed")
	}
	out, _, code = p.run(t, "pull", "t", "rel_0001", "-o", "x.epack", "--json", "--insecure-allow-unpinned")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res["pulled"] != true || res["verified"] != true {
		t.Fatalf("json pull: %v %q", err, out)
	}
	// The existing tool's digest and size, and beside them the names every
	// other command uses.
	ins, _, _ := p.run(t, "inspect", "x.epack", "--json")
	var in map[string]any
	json.Unmarshal([]byte(ins), &in)
	if d, _ := res["digest"].(string); !strings.HasPrefix(d, "sha256:") || res["file_digest"] != d ||
		res["size"] == nil || res["size_bytes"] != res["size"] || res["pack_digest"] == nil || res["pack_digest"] != in["pack_digest"] {
		t.Errorf("pull --json digests: %v (inspect pack_digest %v)", res, in["pack_digest"])
	}
	// Dry run: ref precedence, nothing called.
	out, _, code = p.run(t, "pull", "t", "v9", "--release", "rel_x", "--dry-run", "--json")
	var dry map[string]any
	json.Unmarshal([]byte(out), &dry)
	if code != 0 || dry["ref"] != "release: rel_x" || dry["verify"] != true {
		t.Errorf("dry run: %v", dry)
	}
	for positional, want := range map[string]string{"sha256:" + strings.Repeat("a", 64): "digest: ", "rel_abc": "release: rel_abc", "v1.2.0": "version: v1.2.0", "": "latest"} {
		args := []string{"pull", "t", "--dry-run", "--json"}
		if positional != "" {
			args = append(args, positional)
		}
		out, _, _ = p.run(t, args...)
		dry = map[string]any{}
		json.Unmarshal([]byte(out), &dry)
		if !strings.HasPrefix(dry["ref"].(string), want) {
			t.Errorf("positional %q → ref %v", positional, dry["ref"])
		}
	}
	if _, _, code := p.run(t, "pull"); code != 2 {
		t.Errorf("missing remote: exit %d", code)
	}
	if _, _, code := p.run(t, "pull", "a", "b", "c"); code != 2 {
		t.Errorf("too many args: exit %d", code)
	}
}

func TestPullCLIDetach(t *testing.T) {
	p := newProject(t, "")
	if _, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "-q"); code != 0 {
		t.Fatalf("push: %s", errOut)
	}
	os.MkdirAll(filepath.Join(p.root, "sub"), 0o755)
	out, errOut, code := p.run(t, "pull", "t", "-o", "sub/out.epack", "--insecure-allow-unpinned", "--detach", "--json")
	if code != 0 {
		t.Fatalf("detach: %s", errOut)
	}
	var d map[string]any
	json.Unmarshal([]byte(out), &d)
	id, _ := d["job_id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	var job map[string]any
	for time.Now().Before(deadline) {
		o, _, _ := p.run(t, "jobs", id, "--json")
		job = map[string]any{}
		json.Unmarshal([]byte(o), &job)
		if job["status"] != "running" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if job["status"] != "completed" {
		t.Fatalf("job %v", job)
	}
	if _, err := os.Stat(filepath.Join(p.root, "sub", "out.epack")); err != nil {
		t.Fatalf("relative -o not honoured by the detached child: %v", err)
	}
}
