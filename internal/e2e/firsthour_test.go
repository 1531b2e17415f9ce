package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// runIn runs the epack binary in dir with a clean environment for the
// settings that would otherwise change what a new user sees.
func runIn(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	return testkit.Run(t, filepath.Join(bin, "epack"), dir, []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "GITHUB_ACTIONS="}, args...)
}

// nextLines returns the commands init printed under "Next:".
func nextLines(out string) []string {
	_, after, ok := strings.Cut(out, "Next:\n")
	if !ok {
		return nil
	}
	var cmds []string
	for _, l := range strings.Split(after, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "epack ") {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

// From a clean folder, exactly as 'epack init' prints it: init, build
// without --stream, push to the local registry. No other step.
func TestFirstHourInitBuildPush(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	dir := t.TempDir()
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	for _, f := range []string{"iam.json", "repos.json"} {
		if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "files", f), []byte(`{"ok":true}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runIn(t, bin, dir, "init", "--stream", "acme/prod")
	wantExit(t, "init", code, 0, out, errOut)
	if !strings.Contains(out, "pinned adapter") {
		t.Fatalf("init did not pin the filesystem adapter:\n%s\n%s", out, errOut)
	}
	gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if got, want := strings.TrimSpace(string(gi)), "# epack: local registry, job records, installed adapters and caches\n/.epack/registry/\n/.epack/jobs/\n/.epack/remotes/\n/.epack/cache/"; got != want {
		t.Fatalf(".gitignore:\n%s\nwant:\n%s", gi, want)
	}
	next := nextLines(out)
	if len(next) < 2 || strings.Contains(strings.Join(next, "\n"), "epack lock") {
		t.Fatalf("Next lines %q (a lock step means init did not pin)", next)
	}
	for _, line := range next {
		args := strings.Fields(strings.TrimPrefix(line, "epack "))
		if args[0] == "build" {
			// The one placeholder: the user's evidence files.
			args = append(args[:len(args)-3], "files/iam.json", "files/repos.json")
		}
		if args[0] == "releases" {
			continue // covered by the releases tests
		}
		out, errOut, code := runIn(t, bin, dir, args...)
		wantExit(t, line, code, 0, out, errOut)
	}
	// After the first push, .epack/ holds nothing git would show as
	// untracked except receipts, which are meant to be committed.
	ignored := map[string]bool{}
	for _, l := range strings.Split(string(gi), "\n") {
		ignored[strings.TrimSpace(l)] = true
	}
	if _, err := os.Stat(filepath.Join(dir, ".epack", "cache", "capabilities")); err != nil {
		t.Errorf("no capabilities cache after the push: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, ".epack"))
	for _, e := range ents {
		if e.Name() != "receipts" && !ignored["/.epack/"+e.Name()+"/"] {
			t.Errorf(".epack/%s is not in .gitignore:\n%s", e.Name(), gi)
		}
	}
	// What was pushed is in the local registry and pulls back.
	out, errOut, code = runIn(t, bin, dir, "pull", "local", "-o", "back.epack")
	wantExit(t, "pull local", code, 0, out, errOut)
	a, _ := os.ReadFile(filepath.Join(dir, "evidence.epack"))
	b, _ := os.ReadFile(filepath.Join(dir, "back.epack"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the pulled pack is not the pushed one")
	}
}

// pull without a ref takes the newest pack of the project's stream, not the
// newest of any stream; --stream and --all-streams choose otherwise.
func TestPullDefaultsToTheProjectStream(t *testing.T) {
	p := newProj(t, fsStore()) // stream: acme/prod
	e2e.WritePack(t, filepath.Join(p.root, "prod.epack"), "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"s":"prod"}`)})
	e2e.WritePack(t, filepath.Join(p.root, "other.epack"), "acme/other", e2e.File{Name: "a.json", Data: []byte(`{"s":"other"}`)})
	p.runJSON(t, "push", "reg", "prod.epack", "--label", "v1.0.0", "--frozen")
	p.runJSON(t, "push", "reg", "other.epack", "--label", "v1.0.0", "--frozen") // newer, another stream
	for _, c := range []struct {
		args   []string
		stream string
	}{
		{nil, "acme/prod"},
		{[]string{"--version", "v1.0.0"}, "acme/prod"},
		{[]string{"--stream", "acme/other"}, "acme/other"},
		{[]string{"--all-streams"}, "acme/other"},
	} {
		res := p.runJSON(t, append([]string{"pull", "reg", "-o", "x.epack", "--force", "--frozen"}, c.args...)...)
		if res["stream"] != c.stream {
			t.Fatalf("pull %v: stream %v, want %s", c.args, res["stream"], c.stream)
		}
	}
	// Nothing in the project's stream yet for this version: the hint says how to look elsewhere.
	out, errOut, code := p.run(t, "pull", "reg", "--version", "v9.9.9", "-o", "y.epack", "--frozen")
	if code == 0 || !strings.Contains(errOut, "--all-streams") {
		t.Fatalf("missing version: exit %d\n%s\n%s", code, out, errOut)
	}
}

// pull --digest takes the file digest or the pack digest (the one build,
// inspect and push label as such).
func TestPullByFileOrPackDigest(t *testing.T) {
	p := newProj(t, fsStore())
	e2e.WritePack(t, filepath.Join(p.root, "p.epack"), "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"d":1}`)})
	pushed := p.runJSON(t, "push", "reg", "p.epack", "--frozen")
	want, _ := os.ReadFile(filepath.Join(p.root, "p.epack"))
	for _, d := range []string{pushed["file_digest"].(string), pushed["pack_digest"].(string)} {
		res := p.runJSON(t, "pull", "reg", "--digest", d, "-o", "x.epack", "--force", "--frozen")
		got, _ := os.ReadFile(filepath.Join(p.root, "x.epack"))
		if !bytes.Equal(got, want) || res["digest"] != pushed["file_digest"] {
			t.Fatalf("pull --digest %s: %v", d, res)
		}
	}
	out, errOut, code := p.run(t, "pull", "reg", "--digest", "sha256:"+strings.Repeat("0", 64), "-o", "y.epack", "--frozen")
	if code == 0 || !strings.Contains(errOut, "not_found") {
		t.Fatalf("unknown digest: exit %d\n%s\n%s", code, out, errOut)
	}
}
