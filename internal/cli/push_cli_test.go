package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

var binDir string

func TestMain(m *testing.M) { os.Exit(e2e.Main(m, &binDir)) }

type project struct {
	root, bin, state, registry string
}

func newProject(t *testing.T, ext string) *project {
	t.Helper()
	bin := e2e.BinDir(t, binDir)
	tp := e2e.NewTestProject(t, bin, e2e.TestRemote{Ext: ext})
	p := &project{bin: bin, root: tp.Root, state: tp.State, registry: tp.Registry}
	e2e.WritePack(t, filepath.Join(p.root, "dist", "s.epack"), "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	return p
}

// run executes the epack binary in dir and returns stdout, stderr and the exit status.
func (p *project) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testkit.Run(t, filepath.Join(p.bin, "epack"), p.root, []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "GITHUB_ACTIONS="}, args...)
}

func TestPushCLIHumanOutput(t *testing.T) {
	p := newProject(t, "")
	out, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--label", "a,b")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Verifying pack integrity...\n", "[OK]  Verifying pack integrity", "[OK]  Finalizing release", "Uploading (100%)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, want := range []string{"Pushed to t in", "ID:      rel_0001", "Receipt: ", "epack pull t"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "\x1b[") {
		t.Error("colour codes written to a non-terminal")
	}
}

func TestPushCLIFailureShownAsFailed(t *testing.T) {
	p := newProject(t, "")
	out, errOut, code := p.run(t, "push", "t", "dist/s.epack")
	if code != 10 {
		t.Fatalf("unpinned adapter: exit %d, want 10\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "[FAIL]  Resolving adapter") || strings.Contains(errOut, "[OK]  Resolving adapter") {
		t.Errorf("failed step not shown as failed:\n%s", errOut)
	}
	if !strings.Contains(errOut, "Hint: ") || !strings.Contains(errOut, "epack lock t") {
		t.Errorf("no fix hint:\n%s", errOut)
	}
	// JSON error object on stdout.
	out, _, code = p.run(t, "push", "t", "dist/s.epack", "--json")
	var obj struct {
		OK    bool `json:"ok"`
		Error struct {
			Code     string `json:"code"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil || obj.Error.Code != "lockfile_invalid" || obj.Error.ExitCode != 10 || code != 10 {
		t.Fatalf("json error %q (%v), exit %d", out, err, code)
	}
	// Usage errors and missing packs are bad input (exit 2).
	if _, _, code := p.run(t, "push", "t"); code != 2 {
		t.Errorf("missing args: exit %d", code)
	}
	if _, _, code := p.run(t, "push", "t", "nope.epack"); code != 2 {
		t.Errorf("missing pack: exit %d", code)
	}
	if _, _, code := p.run(t, "push", "t", "dist/s.epack", "--frozen", "--insecure-allow-unpinned"); code == 0 {
		t.Errorf("frozen+unpinned accepted")
	}
}

func TestPushCLIJSONQuietAndDryRun(t *testing.T) {
	p := newProject(t, "")
	out, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if res["pushed"] != true || res["release_id"] != "rel_0001" || res["receipt_path"] == "" {
		t.Errorf("json result %v", res)
	}
	if strings.Contains(errOut, "Verifying") {
		t.Errorf("step lines printed in --json mode: %s", errOut)
	}
	out, errOut, code = p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "-q")
	if code != 0 || out != "" || strings.Contains(errOut, "Verifying") {
		t.Errorf("quiet: exit %d out %q err %q", code, out, errOut)
	}
	os.Remove(filepath.Join(p.state, "requests.log"))
	out, errOut, code = p.run(t, "push", "t", "dist/s.epack", "--dry-run", "--json", "--label", "x")
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut)
	}
	var dry map[string]any
	json.Unmarshal([]byte(out), &dry)
	if dry["dry_run"] != true || dry["verified"] != true || dry["stream"] != "acme/evidence" || dry["workspace"] != "acme" {
		t.Errorf("dry run %v", dry)
	}
	if _, err := os.Stat(filepath.Join(p.state, "requests.log")); err == nil {
		t.Error("dry run called the adapter")
	}
}

func TestPushCLIDetachAndJobs(t *testing.T) {
	p := newProject(t, "")
	out, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--detach", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d struct {
		Detached bool   `json:"detached"`
		JobID    string `json:"job_id"`
		PID      int    `json:"pid"`
		LogPath  string `json:"log_path"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || !d.Detached || d.JobID == "" {
		t.Fatalf("detach output %q", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	var job map[string]any
	for time.Now().Before(deadline) {
		out, _, _ = p.run(t, "jobs", d.JobID, "--json")
		job = map[string]any{}
		json.Unmarshal([]byte(out), &job)
		if job["status"] != "running" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if job["status"] != "completed" || job["exit_code"] != float64(0) {
		log, _ := os.ReadFile(d.LogPath)
		t.Fatalf("job %v\nlog:\n%s", job, log)
	}
	if r, ok := job["result"].(map[string]any); !ok || r["release_id"] != "rel_0001" {
		t.Errorf("job result %v", job["result"])
	}
	out, _, code = p.run(t, "jobs")
	if code != 0 || !strings.Contains(out, d.JobID) || !strings.Contains(out, "completed") {
		t.Errorf("jobs list: %q", out)
	}
}

// TestWorksFromSymlinkedFolder: a shell's $PWD may name the project through a
// symbolic link (CI workspaces, macOS /tmp). Relative outputs must still work.
func TestWorksFromSymlinkedFolder(t *testing.T) {
	p := newProject(t, "")
	link := filepath.Join(t.TempDir(), "ws")
	if err := os.Symlink(p.root, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"build", "dist/built.epack", "epack.yaml", "--stream", "acme/x", "-q"},
		{"push", "t", "dist/built.epack", "--insecure-allow-unpinned", "-q"},
		{"pull", "t", "-o", "pulled.epack", "--insecure-allow-unpinned", "-q"},
	} {
		cmd := exec.Command(filepath.Join(p.bin, "epack"), args...)
		cmd.Dir = link
		cmd.Env = append(os.Environ(), "PWD="+link, "EPACK_INSECURE_ALLOW_UNPINNED=", "CI=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("epack %v from a symlinked folder: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(p.root, "pulled.epack")); err != nil {
		t.Fatal(err)
	}
}
