package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinkedProjectFoldersRefusedThroughCLI: through the real binary, a
// symbolic link on .epack, on the jobs folder (push --detach) or on the
// receipts folder is refused with symlink_not_allowed before the adapter is
// started, and nothing is written behind the link.
func TestLinkedProjectFoldersRefusedThroughCLI(t *testing.T) {
	cases := []struct {
		name, link string
		args       []string
	}{
		{".epack, push", ".epack", []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned"}},
		{".epack, push --detach", ".epack", []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--detach"}},
		{"jobs folder, push --detach", ".epack/jobs", []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned", "--detach"}},
		{"jobs folder, pull --detach", ".epack/jobs", []string{"pull", "t", "--insecure-allow-unpinned", "--detach"}},
		{"receipts folder, push", ".epack/receipts", []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned"}},
		{"receipts folder, pull", ".epack/receipts/pull", []string{"pull", "t", "--insecure-allow-unpinned"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, "")
			outside := t.TempDir()
			link := filepath.Join(p.root, tc.link)
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := p.run(t, tc.args...)
			if code == 0 || !strings.Contains(errOut, "symbolic link") {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("written through the link: %v", ents)
			}
			if b, _ := os.ReadFile(filepath.Join(p.state, "requests.log")); strings.Contains(string(b), ".prepare") {
				t.Fatalf("the adapter was asked to prepare:\n%s", b)
			}
		})
	}
}
