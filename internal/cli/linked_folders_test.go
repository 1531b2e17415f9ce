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

// TestInitProjectWithLinkedEpackRefusesPush: the project `epack init`
// makes (filesystem remote "local", registry in .epack/registry) with
// .epack replaced by a link to another folder: push through the real
// filesystem adapter used to write blobs, records and receipts behind the
// link. It is refused before the adapter runs and the folder behind the
// link keeps exactly what it had.
func TestInitProjectWithLinkedEpackRefusesPush(t *testing.T) {
	bin := newProject(t, "").bin
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	p := &project{bin: bin, root: dir}
	if _, errOut, code := p.run(t, "init"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	real := filepath.Join(t.TempDir(), "epack-real")
	if err := os.Rename(filepath.Join(dir, ".epack"), real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, ".epack")); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := p.run(t, "build", "s.epack", "epack.yaml", "--stream", "acme/prod"); code != 0 {
		t.Fatalf("build: %s", errOut)
	}
	before := listTree(real)
	_, errOut, code := p.run(t, "push", "local", "s.epack", "--insecure-allow-unpinned")
	if code == 0 || !strings.Contains(errOut, "symbolic link") {
		t.Fatalf("push through a linked .epack: exit %d\n%s", code, errOut)
	}
	if after := listTree(real); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("written behind the link:\nbefore %v\nafter  %v", before, after)
	}
}

func listTree(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}
