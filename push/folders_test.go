package push_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/push"
)

// linkedProject makes a project whose remote "t" (the test adapter) keeps
// its registry at <root>/<fileRoot> and replaces the folder <root>/<link>
// with a symbolic link to a folder outside the project, prepared so that
// the registry path resolves through it. It returns the project root, the
// adapter's state folder and the link's target, which must stay empty.
func linkedProject(t *testing.T, fileRoot, link string) (root, state, outside string) {
	t.Helper()
	bin := e2e.BinDir(t, binDir)
	root = e2e.Project(t, bin, "")
	state = filepath.Join(root, "state")
	outside = t.TempDir()
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	// The registry exists behind the link (so only the link is wrong).
	below, err := filepath.Rel(link, fileRoot)
	if err == nil && !strings.HasPrefix(below, "..") {
		if err := os.MkdirAll(filepath.Join(outside, below), 0o755); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(filepath.Join(root, fileRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, link)); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  t:\n    binary: %s\n    target: {workspace: acme, environment: prod}\n    transport:\n      file_root: %s\n    extensions: {\"state_dir\":%q}\n",
		filepath.Join(bin, "epack-remote-test"), filepath.Join(root, fileRoot), state)
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	e2e.WritePack(t, filepath.Join(root, "dist", "s.epack"), "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	return root, state, outside
}

// tree lists every path below dir (for "nothing was written through it").
func tree(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir && !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestPushRefusesLinkedFoldersInProject: a symbolic link on any folder
// between the project root and the registry root (file_root inside the
// project) or the receipts folder used to be followed: push wrote the
// registry (and the release) through .epack when .epack was a link. Every
// such push is refused before the adapter is asked anything, with
// symlink_not_allowed, and nothing appears behind the link.
func TestPushRefusesLinkedFoldersInProject(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, fileRoot, link string }{
		{".epack is a link", ".epack/registry", ".epack"},
		{"parent of the registry is a link", "data/store/registry", "data/store"},
		{"registry root is a link", "data/registry", "data/registry"},
		{"receipts folder is a link", "registry", ".epack/receipts"},
		{"push receipts folder is a link", "registry", ".epack/receipts/push"},
		{".epack is a link, registry elsewhere", "registry", ".epack"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, state, outside := linkedProject(t, tc.fileRoot, tc.link)
			o := push.Options{ProjectDir: root, Remote: "t", PackPath: filepath.Join(root, "dist", "s.epack"), Stderr: io.Discard}
			o.Unsafe.AllowUnpinned = true
			res, err := push.Push(context.Background(), o)
			if !errcode.Has(err, errcode.SymlinkNotAllowed) {
				t.Fatalf("push: %+v, %v (code %q), want symlink_not_allowed", res, err, errcode.Of(err))
			}
			if !strings.Contains(err.Error(), filepath.Join(root, tc.link)) {
				t.Errorf("error does not name the link %s: %v", tc.link, err)
			}
			if hint := errcode.HintOf(err); !strings.Contains(hint, "symbolic link") {
				t.Errorf("hint %q", hint)
			}
			if got := tree(outside); len(got) != 0 {
				t.Fatalf("written through the link: %v", got)
			}
			for _, r := range e2e.ReadLog(t, state) {
				if r["type"] == "push.prepare" || r["type"] == "push.finalize" {
					t.Fatalf("the adapter was asked to %s although a folder is a link", r["type"])
				}
			}
		})
	}
}
