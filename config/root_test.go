package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

const minimal = "stream: s\nremotes:\n  local: {adapter: filesystem}\n"

func TestFindRoot(t *testing.T) {
	root := writeProject(t, minimal)
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, start := range []string{root, deep, filepath.Join(root, "a")} {
		got, err := FindRoot(start)
		if err != nil || got != root {
			t.Errorf("FindRoot(%q) = %q, %v; want %q", start, got, err, root)
		}
	}
	// A file as start begins at its folder.
	f := filepath.Join(deep, "x.epack")
	os.WriteFile(f, nil, 0o644)
	if got, err := FindRoot(f); err != nil || got != root {
		t.Errorf("FindRoot(file) = %q, %v", got, err)
	}
	// Nearest wins.
	inner := filepath.Join(root, "a", "b")
	os.WriteFile(filepath.Join(inner, ConfigFileName), []byte(minimal), 0o644)
	if got, _ := FindRoot(deep); got != inner {
		t.Errorf("nearest: got %q want %q", got, inner)
	}
	p, err := LoadProject(deep)
	if err != nil || p.Root != inner || p.ConfigPath != filepath.Join(inner, ConfigFileName) || p.Config.Remotes["local"] == nil {
		t.Errorf("LoadProject = %+v, %v", p, err)
	}
	// Relative start.
	t.Chdir(deep)
	if got, err := FindRoot(""); err != nil || got != inner {
		t.Errorf("FindRoot(\"\") = %q, %v", got, err)
	}
	if got, err := FindRoot("."); err != nil || got != inner {
		t.Errorf("FindRoot(.) = %q, %v", got, err)
	}
}

func TestFindRootNotFound(t *testing.T) {
	dir := t.TempDir()
	// Only meaningful when no ancestor of the temp dir has an epack.yaml.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ConfigFileName)); err == nil {
			t.Skipf("an ancestor %s has an epack.yaml", d)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	_, err := FindRoot(dir)
	if errcode.Of(err) != errcode.ProjectNotFound || !strings.Contains(err.Error(), "epack.yaml not found") || errcode.HintOf(err) == "" {
		t.Fatalf("err = %v (hint %q)", err, errcode.HintOf(err))
	}
	if _, err := LoadProject(dir); errcode.Of(err) != errcode.ProjectNotFound {
		t.Fatalf("LoadProject err = %v", err)
	}
	if _, err := Load(dir); errcode.Of(err) != errcode.ProjectNotFound {
		t.Fatalf("Load err = %v", err)
	}
}

func TestSymlinkedConfigRefused(t *testing.T) {
	real := writeProject(t, minimal)
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(real, ConfigFileName), filepath.Join(root, ConfigFileName)); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "sub")
	os.Mkdir(sub, 0o755)
	if _, err := FindRoot(sub); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Errorf("FindRoot err = %v", err)
	}
	if _, err := Load(root); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Errorf("Load err = %v", err)
	}
	if _, err := LoadProject(sub); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Errorf("LoadProject err = %v", err)
	}
}

func TestConfigNotRegularFile(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, ConfigFileName), 0o755)
	if _, err := FindRoot(root); errcode.Of(err) != errcode.ConfigInvalid {
		t.Errorf("FindRoot err = %v", err)
	}
	if _, err := Load(root); errcode.Of(err) != errcode.ConfigInvalid {
		t.Errorf("Load err = %v", err)
	}
}

func TestOversizedConfig(t *testing.T) {
	body := minimal + "# " + strings.Repeat("x", MaxConfigBytes) + "\n"
	root := writeProject(t, body)
	_, err := Load(root)
	if errcode.Of(err) != errcode.ConfigInvalid || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v", err)
	}
	// Exactly at the limit is fine.
	pad := MaxConfigBytes - len(minimal) - 3
	root = writeProject(t, minimal+"# "+strings.Repeat("x", pad)+"\n")
	if _, err := Load(root); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestOnlyFirstDocumentAndOtherSections(t *testing.T) {
	c, _ := mustLoad(t, `
stream: first
collectors:
  anything: {goes: [here]}
tools: {x: 1}
registry: whatever
remotes:
  a: {adapter: x}
---
stream: second
remotes: 1
`)
	if c.Stream != "first" || len(c.Remotes) != 1 {
		t.Fatalf("got %+v", c)
	}
	// Collectors alone satisfy "at least one collector, tool or remote".
	if _, err := Load(writeProject(t, "collectors:\n  a: {}\n")); err != nil {
		t.Fatalf("collectors only: %v", err)
	}
}

func TestAliasesAndMergeKeys(t *testing.T) {
	c, _ := mustLoad(t, `
defaults: &defaults
  adapter: s3
  target: {workspace: acme}
  secrets: [TOKEN]
remotes:
  a:
    <<: *defaults
    target: {workspace: other}
  b: *defaults
`)
	a, b := c.Remotes["a"], c.Remotes["b"]
	if a.Adapter != "s3" || a.Target.Workspace != "other" || len(a.Secrets) != 1 {
		t.Errorf("a = %+v", a)
	}
	if b.Adapter != "s3" || b.Target.Workspace != "acme" || b.Name != "b" {
		t.Errorf("b = %+v", b)
	}
	// An unknown key brought in through a merge key is still found.
	_, err := Load(writeProject(t, "defaults: &d {adapter: s3, bucket: x}\nremotes:\n  a:\n    <<: *d\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "bucket"`) || !strings.Contains(err.Error(), "epack.yaml:1:") {
		t.Errorf("merged unknown key: %v", err)
	}
}

func TestYAMLBomb(t *testing.T) {
	// Classic billion laughs: 9 levels of 9 aliases each (81 aliases, 9
	// anchors: within the counts), expanding to 9^9 nodes.
	var b strings.Builder
	b.WriteString("a0: &a0 [lol]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	b.WriteString("remotes:\n  o: {adapter: x}\n")
	_, err := Load(writeProject(t, b.String()))
	if errcode.Of(err) != errcode.ConfigInvalid || !strings.Contains(err.Error(), "unsafe YAML") {
		t.Fatalf("err = %v", err)
	}
	// More than 100 aliases in total.
	var c strings.Builder
	for i := 0; i < 11; i++ {
		c.WriteString("x" + strconv.Itoa(i) + ": &x" + strconv.Itoa(i) + " v\n")
	}
	c.WriteString("y: [")
	for i := 0; i < 101; i++ {
		if i > 0 {
			c.WriteString(", ")
		}
		c.WriteString("*x" + strconv.Itoa(i%11))
	}
	c.WriteString("]\nremotes:\n  o: {adapter: x}\n")
	_, err = Load(writeProject(t, c.String()))
	if err == nil || !strings.Contains(err.Error(), "101 aliases") && !strings.Contains(err.Error(), "more than 100 aliases") {
		t.Fatalf("101 aliases: %v", err)
	}
}
