package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
)

func runInitCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"init"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestInitCreatesLoadableConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Project")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, out, errOut := runInitCLI(t, "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "Created") {
		t.Errorf("stdout = %q", out)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatalf("generated file does not load: %v", err)
	}
	if cfg.Stream != "my-project" {
		t.Errorf("stream = %q", cfg.Stream)
	}
	r, err := cfg.ResolveRemote("local", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.AdapterName() != "filesystem" || r.Transport.FileRoot != filepath.Join(dir, ".epack", "registry") {
		t.Errorf("local remote = %+v", r)
	}
	if st, err := os.Stat(filepath.Join(dir, ".epack", "registry")); err != nil || !st.IsDir() {
		t.Errorf("registry folder: %v", err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, "epack.yaml"))
	for _, want := range []string{"# origin:", "#   adapter: s3", "bucket:", "region:", "endpoint:", "path_style:"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("starter file lacks %q", want)
		}
	}
	// The commented S3 example is itself valid once uncommented.
	uncommented := strings.ReplaceAll(string(body), "  # origin:", "  origin:")
	for _, l := range []string{"adapter: s3", "extensions:", "bucket:", "region:", "endpoint:", "path_style:", "target:", "workspace:", "environment: prod"} {
		uncommented = strings.Replace(uncommented, "  #   "+l, "    "+l, 1)
		uncommented = strings.Replace(uncommented, "  #     "+l, "      "+l, 1)
	}
	os.WriteFile(filepath.Join(dir, "epack.yaml"), []byte(uncommented), 0o644)
	if c, err := config.Load(dir); err != nil || c.Remotes["origin"] == nil || c.Remotes["origin"].Extensions["bucket"] == nil {
		t.Errorf("uncommented S3 example: %v\n%s", err, uncommented)
	}
}

func TestInitRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if code, _, e := runInitCLI(t, "--stream", "acme/soc2"); code != 0 {
		t.Fatalf("first init: %s", e)
	}
	os.WriteFile("epack.yaml", []byte("stream: mine\nremotes: {x: {adapter: y}}\n"), 0o644)
	code, out, errOut := runInitCLI(t, "--json")
	if code == 0 {
		t.Fatal("second init succeeded")
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["ok"] != false {
		t.Errorf("json error output %q: %v", out, err)
	}
	if !strings.Contains(errOut, string(errcode.OutputExists)) || !strings.Contains(errOut, "--force") {
		t.Errorf("stderr = %q", errOut)
	}
	if b, _ := os.ReadFile("epack.yaml"); string(b) != "stream: mine\nremotes: {x: {adapter: y}}\n" {
		t.Errorf("file changed: %q", b)
	}
	code, out, _ = runInitCLI(t, "--force", "--json", "--stream", "acme/soc2")
	if code != 0 {
		t.Fatalf("--force: exit %d", code)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["created"] != filepath.Join(dir, "epack.yaml") {
		t.Errorf("json = %q (%v)", out, err)
	}
	c, err := config.Load(dir)
	if err != nil || c.Stream != "acme/soc2" {
		t.Errorf("after --force: %+v %v", c, err)
	}
	// The test binary has no filesystem adapter beside it, so nothing is
	// pinned here (internal/e2e covers the pin).
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestInitGitignore(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(".gitignore", []byte("node_modules\n/.epack/jobs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runInitCLI(t, "--json")
	if code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res["gitignore"]); got != "[/.epack/registry/ /.epack/remotes/ /.epack/cache/]" {
		t.Fatalf("added %v, want the registry, remotes and cache entries only (jobs was there)", got)
	}
	b, _ := os.ReadFile(".gitignore")
	for _, want := range []string{"node_modules\n", "/.epack/registry/\n", "/.epack/remotes/\n", "/.epack/cache/\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf(".gitignore lacks %q:\n%s", want, b)
		}
	}
	if strings.Count(string(b), ".epack/jobs") != 1 {
		t.Errorf(".epack/jobs duplicated:\n%s", b)
	}
	// A second init adds nothing.
	if code, out, _ := runInitCLI(t, "--json", "--force"); code != 0 || !strings.Contains(out, `"gitignore": []`) {
		t.Fatalf("second init: %d %s", code, out)
	}
	// A linked .gitignore is not written through.
	dir2 := t.TempDir()
	t.Chdir(dir2)
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, []byte("x\n"), 0o644)
	os.Symlink(target, ".gitignore")
	if code, _, errOut := runInitCLI(t); code == 0 || !strings.Contains(errOut, string(errcode.SymlinkNotAllowed)) {
		t.Errorf("linked .gitignore: %d %q", code, errOut)
	}
	if b, _ := os.ReadFile(target); string(b) != "x\n" {
		t.Errorf("link target changed: %q", b)
	}
	if _, err := os.Lstat("epack.yaml"); err == nil {
		t.Error("epack.yaml written although init failed")
	}
}

func TestInitQuietAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, errOut := runInitCLI(t, "-q")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("quiet: %d %q %q", code, out, errOut)
	}
	// A symlinked epack.yaml is never replaced, even with --force.
	dir2 := t.TempDir()
	t.Chdir(dir2)
	target := filepath.Join(dir, "epack.yaml")
	before, _ := os.ReadFile(target)
	os.Symlink(target, "epack.yaml")
	if code, _, errOut := runInitCLI(t, "--force"); code == 0 || !strings.Contains(errOut, string(errcode.SymlinkNotAllowed)) {
		t.Errorf("symlink: %d %q", code, errOut)
	}
	if after, _ := os.ReadFile(target); !bytes.Equal(before, after) {
		t.Error("symlink target changed")
	}
	// A symlinked .epack folder is not followed.
	dir3 := t.TempDir()
	t.Chdir(dir3)
	os.Symlink(t.TempDir(), ".epack")
	if code, _, errOut := runInitCLI(t); code == 0 || !strings.Contains(errOut, string(errcode.SymlinkNotAllowed)) {
		t.Errorf(".epack symlink: %d %q", code, errOut)
	}
	// Bad stream.
	if code, _, _ := runInitCLI(t, "--stream", "a\nb"); code != exitstatus.BadInput {
		t.Errorf("multi-line stream: exit %d", code)
	}
	// Stream needing quotes still loads.
	dir4 := t.TempDir()
	t.Chdir(dir4)
	if code, _, e := runInitCLI(t, "--stream", "a: #b"); code != 0 {
		t.Fatalf("quoted stream: %s", e)
	}
	if c, err := config.Load(dir4); err != nil || c.Stream != "a: #b" {
		t.Errorf("quoted stream: %+v %v", c, err)
	}
}

// Without the filesystem adapter beside epack (this test binary has none,
// and PATH is empty) init still exits 0: the pin that failed is a
// warning, and the hint says where the adapter goes and to lock it, not
// to lock it "again".
func TestInitWithoutAdapterWarns(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
	code, out, errOut := runInitCLI(t, "--no-color", "--stream", "acme/prod")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"[WARN] could not pin the filesystem adapter yet:",
		"hint: put epack-remote-filesystem next to epack ('go install github.com/evidencerelay/epack/cmd/...@latest' installs both into one folder), then run 'epack lock local'\n",
		"Next:\n  epack lock local\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[FAIL]") || strings.Contains(out, "again") {
		t.Errorf("init succeeded but says otherwise:\n%s", out)
	}
}
