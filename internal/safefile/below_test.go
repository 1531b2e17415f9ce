//go:build unix

package safefile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// belowFixture is a project with a real .epack/registry, a linked folder
// and a file, and an outside folder that must never receive anything.
func belowFixture(t *testing.T) (project, outside string) {
	t.Helper()
	base := t.TempDir()
	project = filepath.Join(base, "project")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(project, ".epack", "registry"), filepath.Join(project, "data"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(project, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return project, outside
}

func TestOpenDirBelow(t *testing.T) {
	project, outside := belowFixture(t)
	if err := os.MkdirAll(filepath.Join(outside, "registry"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, root, rel string
		create          bool
		code            errcode.Code // "" = success
	}{
		{"registry root", filepath.Join(project, ".epack", "registry"), "blobs/sha256", true, ""},
		{"anchor itself", project, ".epack/jobs", true, ""},
		{"linked component above root", filepath.Join(project, "linked", "registry"), "blobs", true, errcode.SymlinkNotAllowed},
		{"linked root", filepath.Join(project, "linked"), "x", true, errcode.SymlinkNotAllowed},
		{"link below root", project, "linked/x", true, errcode.SymlinkNotAllowed},
		{"file above root", filepath.Join(project, "file", "reg"), "", false, errcode.InvalidPath},
		{"missing root is not created", filepath.Join(project, "data", "missing"), "x", true, errcode.IOError},
		{"traversal", filepath.Join(project, ".epack", "registry"), "../../x", true, errcode.PathTraversal},
		{"outside the anchor: as named", filepath.Join(outside, "registry"), "blobs", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := OpenDirBelow(project, c.root, c.rel, c.create, 0o755)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if want := filepath.Join(c.root, c.rel); d.Path() != want {
					t.Fatalf("path %s, want %s", d.Path(), want)
				}
				return
			}
			wantCode(t, err, c.code)
		})
	}
	if _, err := os.Stat(filepath.Join(project, "data", "missing")); !os.IsNotExist(err) {
		t.Error("a missing root was created")
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "registry")); len(ents) != 1 {
		t.Errorf("outside registry holds %v, want only blobs (from the outside case)", ents)
	}
	// An empty anchor is plain OpenDir.
	d, err := OpenDirBelow("", filepath.Join(project, ".epack"), "registry", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}

// TestOpenDirBelowAnchorThroughLink: the anchor's own path may go through a
// link (a shell's $PWD); only what lies below it is held to no-follow.
func TestOpenDirBelowAnchorThroughLink(t *testing.T) {
	project, _ := belowFixture(t)
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(project, alias); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDirBelow(alias, filepath.Join(alias, ".epack", "registry"), "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	wantCode(t, CheckBelow(alias, filepath.Join(alias, "linked", "x")), errcode.SymlinkNotAllowed)
}

func TestCheckBelow(t *testing.T) {
	project, outside := belowFixture(t)
	cases := []struct {
		name, dir string
		code      errcode.Code
	}{
		{"real folders", filepath.Join(project, ".epack", "registry"), ""},
		{"missing tail is fine", filepath.Join(project, ".epack", "receipts", "push", "origin"), ""},
		{"anchor itself", project, ""},
		{"linked component", filepath.Join(project, "linked", "receipts"), errcode.SymlinkNotAllowed},
		{"linked last component", filepath.Join(project, "linked"), errcode.SymlinkNotAllowed},
		{"file component", filepath.Join(project, "file", "x"), errcode.InvalidPath},
		{"outside is not checked", filepath.Join(outside, "x"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckBelow(project, c.dir)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, c.code)
		})
	}
	if _, err := os.Stat(filepath.Join(project, ".epack", "receipts")); !os.IsNotExist(err) {
		t.Error("CheckBelow created a folder")
	}
	mustNoEntries(t, outside)
}

func TestBelow(t *testing.T) {
	for _, c := range []struct {
		anchor, dir, rel string
		ok               bool
	}{
		{"/p", "/p", ".", true},
		{"/p", "/p/.epack/x", ".epack/x", true},
		{"/p", "/p/../q", "", false},
		{"/p", "/pq", "", false},
		{"", "/p", "", false},
		{"/p", "/p/a/../b", "b", true},
		// A NUL byte anywhere refuses the pair, even the first byte of a
		// path that cleans to a folder inside the anchor ("\x00/.." is the
		// current folder once made absolute).
		{"\x00/..", ".", "", false},
		{"/", "\x00/..", "", false},
		{"/p\x00", "/p", "", false},
		{"/p", "/p/a\x00", "", false},
	} {
		rel, ok := Below(c.anchor, c.dir)
		if ok != c.ok || rel != c.rel {
			t.Errorf("Below(%q, %q) = %q %v", c.anchor, c.dir, rel, ok)
		}
	}
}
