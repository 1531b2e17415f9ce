package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullCLIRefusesAnotherPackThanAsked: `epack pull t --version v1.0.0`
// against an adapter that answers release "v1" (and, in the second case, a
// stream the manifest does not carry) used to write the pack with at most a
// warning. The real binary now exits 11 and writes nothing.
func TestPullCLIRefusesAnotherPackThanAsked(t *testing.T) {
	cases := []struct{ name, ext, want string }{
		{"version differs", "", `version "v1"`},
		{"stream differs from manifest", `,"pull_version":"v1.0.0","pull_stream":"acme/other"`, `"acme/other"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, "")
			if _, errOut, code := p.run(t, "push", "t", "dist/s.epack", "--insecure-allow-unpinned", "-q"); code != 0 {
				t.Fatalf("push: %s", errOut)
			}
			cfg := filepath.Join(p.root, "epack.yaml")
			y, _ := os.ReadFile(cfg)
			os.WriteFile(cfg, []byte(strings.Replace(string(y), `"state_dir":"`+p.state+`"`, `"state_dir":"`+p.state+`"`+tc.ext, 1)), 0o644)
			_, errOut, code := p.run(t, "pull", "t", "--version", "v1.0.0", "-o", "got.epack", "--insecure-allow-unpinned")
			if code != 11 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want 11), stderr:\n%s", code, errOut)
			}
			if _, err := os.Stat(filepath.Join(p.root, "got.epack")); err == nil {
				t.Fatal("the pack was written")
			}
			if m, _ := filepath.Glob(filepath.Join(p.root, ".epack-pull-*")); len(m) != 0 {
				t.Fatalf("temp files left: %v", m)
			}
		})
	}
}

// TestCLIRefusesBlankWorkspace: `--workspace "  "` used to mean the
// configured workspace; push and pull now exit 2 naming the workspace.
func TestCLIRefusesBlankWorkspace(t *testing.T) {
	p := newProject(t, "")
	for _, args := range [][]string{
		{"push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--workspace", "  "},
		{"pull", "t", "--insecure-allow-unpinned", "--workspace", "  "},
		// Given but empty is not "use the configured one" either.
		{"push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--workspace", ""},
		{"pull", "t", "--insecure-allow-unpinned", "--workspace="},
		{"push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--env", ""},
	} {
		_, errOut, code := p.run(t, args...)
		named := strings.Contains(errOut, "workspace") || strings.Contains(errOut, "--env")
		if code != 2 || !named || !strings.Contains(errOut, "blank") {
			t.Errorf("%v: exit %d, stderr:\n%s", args[0], code, errOut)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(p.state, "requests.log")); strings.Contains(string(b), ".prepare") {
		t.Fatalf("the adapter was asked to prepare:\n%s", b)
	}
}
