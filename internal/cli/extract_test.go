package cli

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pack"
)

// extractFiles are the artifacts of the pack the extract tests read.
var extractFiles = []e2e.File{
	{Name: "a.json", Data: []byte(`{"a":1}`)},
	{Name: "iam/users.json", Data: []byte(`{"users":["ann","bob"]}`)},
	{Name: "repos.csv", Data: []byte("name,private\nweb,true\n")},
}

// tree lists every entry below dir ("" when dir does not exist), with "/"
// after folders and "@" after links.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			rel += "@"
		case d.IsDir():
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestExtractFlags(t *testing.T) {
	clearEnv(t)
	cases := []struct {
		name string
		args []string
		want *extractOptions // nil: a usage error
	}{
		{"all", []string{"extract", "p.epack", "-o", "out"}, &extractOptions{Pack: "p.epack", Paths: []string{}, Output: "out"}},
		{"paths", []string{"extract", "p.epack", "a.json", "artifacts/b.json", "--output", "out", "--force"},
			&extractOptions{Pack: "p.epack", Paths: []string{"a.json", "artifacts/b.json"}, Output: "out", Force: true}},
		{"default output", []string{"extract", "p.epack"}, &extractOptions{Pack: "p.epack", Paths: []string{}}},
		{"existing tool's --all", []string{"extract", "--all", "p.epack"}, &extractOptions{Pack: "p.epack", Paths: []string{}, All: true}},
		{"--all with paths", []string{"extract", "--all", "p.epack", "a.json"}, nil},
		{"blank output", []string{"extract", "p.epack", "-o", " "}, nil},
		{"no pack", []string{"extract"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := parseWith(t, newCmdExtract, c.args...)
			if c.want == nil {
				if err == nil || !errcode.Has(err, errcode.InvalidInput) {
					t.Fatalf("want a usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := got.(*extractOptions)
			o.g = nil
			if o.Pack != c.want.Pack || strings.Join(o.Paths, ",") != strings.Join(c.want.Paths, ",") || o.Output != c.want.Output ||
				o.Force != c.want.Force || o.All != c.want.All {
				t.Errorf("parsed %+v, want %+v", o, c.want)
			}
		})
	}
}

func TestDefaultExtractDir(t *testing.T) {
	for in, want := range map[string]string{
		"dist/acme.epack": "acme", "acme.epack": "acme", "/x/y/evidence.zip": "evidence.zip.extracted",
		"pack": "pack.extracted", ".epack": ".epack.extracted",
	} {
		if got := defaultExtractDir(in); got != want {
			t.Errorf("defaultExtractDir(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckExtractPaths: paths pack.Open already refuses are refused again
// before anything is written (defence in depth).
func TestCheckExtractPaths(t *testing.T) {
	cases := []struct {
		paths []string
		code  errcode.Code // "" means accepted
	}{
		{[]string{"artifacts/a.json", "artifacts/x/y.json"}, ""},
		{[]string{"artifacts/../../etc/passwd"}, errcode.PathTraversal},
		{[]string{"/etc/passwd"}, errcode.PathTraversal},
		{[]string{"artifacts//a.json"}, errcode.PathTraversal},
		{[]string{"artifacts/./a.json"}, errcode.PathTraversal},
		{[]string{`artifacts\..\a.json`}, errcode.PathTraversal},
		{[]string{"manifest.json"}, errcode.PathTraversal},
		{[]string{"artifacts/A.json", "artifacts/a.json"}, errcode.DuplicatePath},
		{[]string{"artifacts/a", "artifacts/a/b.json"}, errcode.DuplicatePath},
	}
	for _, c := range cases {
		var arts []pack.Artifact
		for _, p := range c.paths {
			arts = append(arts, pack.Artifact{Type: "embedded", Path: p})
		}
		err := checkExtractPaths(arts)
		if c.code == "" && err != nil || c.code != "" && !errcode.Has(err, c.code) {
			t.Errorf("%q: %v, want %q", c.paths, err, c.code)
		}
	}
}

func TestExtract(t *testing.T) {
	type env struct {
		dir, pack, out string // out does not exist at the start
		outside        string // a folder next to out that must stay empty
	}
	type tc struct {
		name  string
		setup func(t *testing.T, e env)
		args  func(e env) []string
		code  int
		err   string // in stderr
		check func(t *testing.T, e env, stdout string)
	}
	wantTree := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		if got := tree(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s holds %q, want %q", dir, got, want)
		}
	}
	all := []string{"artifacts/", "artifacts/a.json", "artifacts/iam/", "artifacts/iam/users.json", "artifacts/repos.csv"}
	cases := []tc{
		{name: "all, output created", args: func(e env) []string { return []string{"extract", e.pack, "-o", filepath.Join(e.out, "deep", "er")} },
			check: func(t *testing.T, e env, _ string) {
				root := filepath.Join(e.out, "deep", "er")
				wantTree(t, root, all...)
				for _, f := range extractFiles {
					p := filepath.Join(root, "artifacts", filepath.FromSlash(f.Name))
					got, err := os.ReadFile(p)
					if err != nil || string(got) != string(f.Data) {
						t.Errorf("%s: %q %v", p, got, err)
					}
					if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
						t.Errorf("%s mode %v", p, fi.Mode())
					}
				}
				for _, d := range []string{e.out, root, filepath.Join(root, "artifacts", "iam")} {
					if fi, _ := os.Stat(d); !fi.IsDir() || fi.Mode().Perm()&^0o755 != 0 {
						t.Errorf("%s mode %v", d, fi.Mode())
					}
				}
			}},
		{name: "selected, both spellings", args: func(e env) []string {
			return []string{"extract", e.pack, "iam/users.json", "artifacts/repos.csv", "repos.csv", "-o", e.out}
		}, check: func(t *testing.T, e env, out string) {
			wantTree(t, e.out, "artifacts/", "artifacts/iam/", "artifacts/iam/users.json", "artifacts/repos.csv")
			if !strings.Contains(out, "Extracted 2 artifact(s)") {
				t.Errorf("stdout %q", out)
			}
		}},
		{name: "json", args: func(e env) []string { return []string{"extract", e.pack, "a.json", "-o", e.out, "--json"} },
			check: func(t *testing.T, e env, out string) {
				var res struct {
					Count     int      `json:"count"`
					Extracted []string `json:"extracted"`
					Output    string   `json:"output"`
					Artifacts []string `json:"artifacts"`
				}
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				want := filepath.Join(e.out, "artifacts", "a.json")
				if res.Count != 1 || len(res.Extracted) != 1 || res.Extracted[0] != want || res.Output != e.out ||
					len(res.Artifacts) != 1 || res.Artifacts[0] != "artifacts/a.json" {
					t.Errorf("json %+v", res)
				}
			}},
		{name: "into an existing folder", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts"), 0o755)
			os.WriteFile(filepath.Join(e.out, "keep.txt"), []byte("mine"), 0o644)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out, append(all, "keep.txt")...)
			}},
		{name: "unknown path", args: func(e env) []string {
			return []string{"extract", e.pack, "a.json", "nope.json", "artifacts/gone.csv", "-o", e.out}
		}, code: 2, err: `not in the manifest of`, check: func(t *testing.T, e env, _ string) {
			wantTree(t, e.out)
		}},
		{name: "tampered artifact leaves nothing", setup: func(t *testing.T, e env) {
			tamperEntry(t, e.pack, "artifacts/repos.csv")
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", filepath.Join(e.out, "new")} },
			code: 11, err: "digest_mismatch", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out)
			}},
		{name: "tampered artifact, existing folder stays as it was", setup: func(t *testing.T, e env) {
			tamperEntry(t, e.pack, "artifacts/repos.csv")
			os.MkdirAll(e.out, 0o755)
			os.WriteFile(filepath.Join(e.out, "keep.txt"), []byte("mine"), 0o644)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			code: 11, check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out, "keep.txt")
			}},
		{name: "existing file without --force", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts"), 0o755)
			os.WriteFile(filepath.Join(e.out, "artifacts", "repos.csv"), []byte("old"), 0o644)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			code: 1, err: "output_exists", check: func(t *testing.T, e env, _ string) {
				// Checked before anything is written: no other artifact either.
				wantTree(t, e.out, "artifacts/", "artifacts/repos.csv")
				if b, _ := os.ReadFile(filepath.Join(e.out, "artifacts", "repos.csv")); string(b) != "old" {
					t.Errorf("file changed: %q", b)
				}
			}},
		{name: "existing file with --force", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts"), 0o755)
			os.WriteFile(filepath.Join(e.out, "artifacts", "repos.csv"), []byte("old"), 0o644)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out, "--force"} },
			check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out, all...)
				if b, _ := os.ReadFile(filepath.Join(e.out, "artifacts", "repos.csv")); string(b) != string(extractFiles[2].Data) {
					t.Errorf("not replaced: %q", b)
				}
			}},
		{name: "symlink as the output folder", setup: func(t *testing.T, e env) {
			os.Symlink(e.outside, e.out)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			code: 1, err: "symlink_not_allowed", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.outside)
			}},
		{name: "symlink above a new output folder", setup: func(t *testing.T, e env) {
			os.Symlink(e.outside, e.out)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", filepath.Join(e.out, "sub")} },
			code: 1, err: "symlink_not_allowed", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.outside)
			}},
		{name: "symlinked folder inside the output folder", setup: func(t *testing.T, e env) {
			os.MkdirAll(e.out, 0o755)
			os.Symlink(e.outside, filepath.Join(e.out, "artifacts"))
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out, "--force"} },
			code: 1, err: "symlink_not_allowed", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.outside)
				wantTree(t, e.out, "artifacts@")
			}},
		{name: "symlink deeper inside the output folder", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts"), 0o755)
			os.Symlink(e.outside, filepath.Join(e.out, "artifacts", "iam"))
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			code: 1, err: "symlink_not_allowed", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.outside)
				wantTree(t, e.out, "artifacts/", "artifacts/iam@")
			}},
		{name: "symlink at a destination file, even with --force", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts"), 0o755)
			os.WriteFile(filepath.Join(e.outside, "victim"), []byte("precious"), 0o644)
			os.Symlink(filepath.Join(e.outside, "victim"), filepath.Join(e.out, "artifacts", "a.json"))
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out, "--force"} },
			code: 1, err: "symlink_not_allowed", check: func(t *testing.T, e env, _ string) {
				if b, _ := os.ReadFile(filepath.Join(e.outside, "victim")); string(b) != "precious" {
					t.Errorf("written through the link: %q", b)
				}
				wantTree(t, e.out, "artifacts/", "artifacts/a.json@")
			}},
		{name: "a folder where a file goes", setup: func(t *testing.T, e env) {
			os.MkdirAll(filepath.Join(e.out, "artifacts", "a.json"), 0o755)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out, "--force"} },
			code: 2, err: "is a folder", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out, "artifacts/", "artifacts/a.json/")
			}},
		{name: "output is a file", setup: func(t *testing.T, e env) {
			os.WriteFile(e.out, []byte("x"), 0o644)
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} }, code: 2},
		{name: "traversal in the manifest", setup: func(t *testing.T, e env) {
			writeRawPack(t, e.pack, e2e.File{Name: "artifacts/../../evil.json", Data: []byte("{}")})
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out} },
			code: 2, err: "invalid_path", check: func(t *testing.T, e env, _ string) {
				wantTree(t, e.out)
				if _, err := os.Lstat(filepath.Join(e.dir, "evil.json")); !os.IsNotExist(err) {
					t.Error("escaped the output folder")
				}
			}},
		{name: "no artifacts", setup: func(t *testing.T, e env) {
			e2e.WritePack(t, e.pack, "acme/empty")
		}, args: func(e env) []string { return []string{"extract", e.pack, "-o", e.out, "--json"} },
			check: func(t *testing.T, e env, out string) {
				var res map[string]any
				json.Unmarshal([]byte(out), &res)
				if res["count"] != float64(0) || res["extracted"] == nil {
					t.Errorf("json %v", res)
				}
				wantTree(t, e.out)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := realTempDir(t)
			e := env{dir: dir, pack: filepath.Join(dir, "acme.epack"), out: filepath.Join(dir, "out"), outside: filepath.Join(dir, "outside")}
			e2e.WritePack(t, e.pack, "acme/prod", extractFiles...)
			os.Mkdir(e.outside, 0o755)
			if c.setup != nil {
				c.setup(t, e)
			}
			stdout, stderr, code := runCmd(t, c.args(e)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, stdout, stderr)
			}
			if !strings.Contains(stderr, c.err) {
				t.Errorf("stderr lacks %q:\n%s", c.err, stderr)
			}
			if c.check != nil {
				c.check(t, e, stdout)
			}
			// Never a temporary file left anywhere.
			for _, p := range tree(t, dir) {
				if strings.Contains(p, ".epack-extract-") {
					t.Errorf("temporary file left: %s", p)
				}
			}
		})
	}
}

// TestExtractDefaultOutput: without -o the artifacts go to a new folder
// named after the pack in the current folder, never the current folder.
func TestExtractDefaultOutput(t *testing.T) {
	dir := realTempDir(t)
	t.Chdir(dir)
	e2e.WritePack(t, filepath.Join(dir, "dist", "acme.epack"), "acme/prod", extractFiles...)
	if out, errOut, code := runCmd(t, "extract", filepath.Join("dist", "acme.epack")); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	got := tree(t, dir)
	want := []string{"acme/", "acme/artifacts/", "acme/artifacts/a.json", "acme/artifacts/iam/", "acme/artifacts/iam/users.json",
		"acme/artifacts/repos.csv", "dist/", "dist/acme.epack"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tree %q", got)
	}
	// Again: every file exists now.
	if _, errOut, code := runCmd(t, "extract", filepath.Join("dist", "acme.epack"), "a.json"); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("second extract: exit %d %s", code, errOut)
	}
}
