package pull_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pull"
)

// TestPullRefusesLinkedFoldersAndBadNames: a symbolic link between the
// project root and the registry (file_root inside the project) or the
// receipts folder, and a blank or slashed workspace, stop a pull before the
// adapter is asked for anything; a blank explicit workspace used to become
// the configured one silently.
func TestPullRefusesLinkedFoldersAndBadNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, e *env, o *pull.Options) string // returns a folder that must stay empty
		code  errcode.Code
	}{
		{"linked .epack", func(t *testing.T, e *env, o *pull.Options) string {
			out := t.TempDir()
			os.RemoveAll(filepath.Join(e.root, ".epack")) // the push made it
			if err := os.Symlink(out, filepath.Join(e.root, ".epack")); err != nil {
				t.Fatal(err)
			}
			return out
		}, errcode.SymlinkNotAllowed},
		{"linked folder above file_root", func(t *testing.T, e *env, o *pull.Options) string {
			out := t.TempDir()
			if err := os.Rename(e.registry, filepath.Join(out, "registry")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(out, filepath.Join(e.root, "data")); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(e.root, "epack.yaml")
			y, _ := os.ReadFile(cfg)
			os.WriteFile(cfg, []byte(strings.Replace(string(y), "file_root: "+e.registry, "file_root: "+filepath.Join(e.root, "data", "registry"), 1)), 0o644)
			return ""
		}, errcode.SymlinkNotAllowed},
		{"blank workspace option", func(t *testing.T, e *env, o *pull.Options) string { o.Workspace = "  "; return "" }, errcode.InvalidInput},
		{"workspace option with a slash", func(t *testing.T, e *env, o *pull.Options) string { o.Workspace = "a/b"; return "" }, errcode.InvalidInput},
		{"blank environment option", func(t *testing.T, e *env, o *pull.Options) string { o.Environment = "\t "; return "" }, errcode.InvalidInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			o := e.opts(filepath.Join(e.root, "out.epack"))
			empty := tc.setup(t, e, &o)
			before := len(e2e.ReadLog(t, e.state))
			_, err := pull.Pull(context.Background(), o)
			if !errcode.Has(err, tc.code) {
				t.Fatalf("pull: %v (code %q), want %s", err, errcode.Of(err), tc.code)
			}
			if errcode.HintOf(err) == "" {
				t.Errorf("no hint: %v", err)
			}
			for _, r := range e2e.ReadLog(t, e.state)[before:] {
				if r["type"] == "pull.prepare" {
					t.Fatal("pull.prepare was called")
				}
			}
			if _, err := os.Stat(filepath.Join(e.root, "out.epack")); err == nil {
				t.Fatal("output written")
			}
			if empty != "" {
				if ents, _ := os.ReadDir(empty); len(ents) != 0 {
					t.Fatalf("written through the link: %v", ents)
				}
			}
		})
	}
}
