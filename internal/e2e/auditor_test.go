package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// An auditor's machine with no epack.yaml pulls by registry location with
// the adapter bundled with epack, and gets a verified pack and a receipt in
// its state folder (not in the working folder).
func TestAuditorPullsByLocation(t *testing.T) {
	p := newProj(t, fsStore())
	pk := filepath.Join(p.root, "p.epack")
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	p.runJSON(t, "push", "reg", "p.epack", "--label", "v1.0.0", "--frozen")
	registry := filepath.Join(p.root, ".epack", "registry")

	auditor := t.TempDir()
	state := t.TempDir()
	env := []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "XDG_STATE_HOME=" + state}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return testkit.Run(t, filepath.Join(p.bin, "epack"), auditor, env, args...)
	}
	want, _ := os.ReadFile(pk)
	{
		loc := "file://" + registry + "?workspace=acme&environment=prod"
		out, errOut, code := run("pull", loc, "--version", "v1.0.0", "-o", "x.epack", "--force", "--frozen", "--json")
		wantExit(t, "auditor pull "+loc, code, 0, out, errOut)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(auditor, "x.epack"))
		if !bytes.Equal(got, want) || res["verified"] != true {
			t.Fatalf("pull by location: %v", res)
		}
		if !strings.Contains(errOut, "bundled with this epack") {
			t.Fatalf("the bundled adapter is not shown as such:\n%s", errOut)
		}
		rp, _ := res["receipt_path"].(string)
		if !strings.HasPrefix(rp, state) {
			t.Fatalf("receipt %q not under the state folder %s", rp, state)
		}
	}
	// diff takes a location with :<ref> too, as pull does.
	loc := "file://" + registry + "?workspace=acme&environment=prod"
	for _, ref := range []string{"v1.0.0", "latest", e2e.FileSHA256(t, pk)} {
		out, errOut, code := run("diff", loc+":"+ref, "x.epack", "--exit-code", "--frozen", "--json")
		wantExit(t, "auditor diff "+ref, code, 0, out, errOut)
		var d map[string]any
		if err := json.Unmarshal([]byte(out), &d); err != nil || d["identical"] != true {
			t.Fatalf("diff by location: %v %s", err, out)
		}
		if p1, _ := d["pack1"].(map[string]any); p1["remote"] != loc || p1["version"] != "v1.0.0" {
			t.Fatalf("diff by location, pack1: %v", p1)
		}
		if !strings.Contains(errOut, "bundled with this epack") {
			t.Fatalf("diff: the bundled adapter is not shown as such:\n%s", errOut)
		}
	}
	if out, errOut, code := run("diff", loc, "x.epack"); code != 2 || !strings.Contains(errOut, "no release") {
		t.Fatalf("diff with a location and no ref: exit %d\n%s\n%s", code, out, errOut)
	}
	// releases by location lists what was pushed.
	out, errOut, code := run("releases", "file://"+registry+"?workspace=acme&environment=prod", "--json")
	wantExit(t, "auditor releases", code, 0, out, errOut)
	var rel map[string]any
	if err := json.Unmarshal([]byte(out), &rel); err != nil {
		t.Fatal(err)
	}
	if list, _ := rel["releases"].([]any); len(list) != 1 || list[0].(map[string]any)["version"] != "v1.0.0" {
		t.Fatalf("releases by location: %v", rel)
	}
	// A plain folder path is a location too (the default workspace and
	// environment, where nothing was pushed: the adapter says so).
	out, errOut, code = run("pull", registry, "-o", "z.epack")
	if code == 0 || !strings.Contains(errOut, "bundled with this epack") || !strings.Contains(errOut, "not_found") {
		t.Fatalf("pull by folder path: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(auditor, ".epack")); err == nil {
		t.Fatal("the auditor's working folder got a .epack folder")
	}
	// Hostile and wrong locations: a clear error, nothing written.
	for _, loc := range []string{"file://evil.example/srv", "ftp://x/y", filepath.Join(auditor, "missing"), "s3://"} {
		out, errOut, code := run("pull", loc, "-o", "y.epack")
		if code == 0 || !strings.Contains(errOut, "registry location") {
			t.Fatalf("pull %s: exit %d\n%s\n%s", loc, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(auditor, "y.epack")); err == nil {
		t.Fatal("a refused pull wrote its output")
	}
	// push needs a project.
	out, errOut, code = run("push", "file://"+registry, pk)
	if code == 0 || !strings.Contains(errOut, "remote from epack.yaml") {
		t.Fatalf("push to a location: exit %d\n%s\n%s", code, out, errOut)
	}
}
