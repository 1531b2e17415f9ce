package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/cli"
	"github.com/evidencerelay/epack/internal/testkit"
)

// rcRun runs the CLI in-process in dir.
func rcRun(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	var so, se bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &so, &se)
	return so.String(), se.String(), code
}

// rcBuildSDKAdapter puts a copy of the SDK test adapter (built once by
// internal/testkit) into dir, so the test owns the file it pins and runs.
func rcBuildSDKAdapter(t *testing.T, dir string) string {
	t.Helper()
	built := filepath.Join(testkit.Binaries(t, "epack-remote-sdk=./internal/testadapters/sdkadapter"), "epack-remote-sdk")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "epack-remote-sdk")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLockThenWhoamiRoundTrip(t *testing.T) {
	for _, k := range []string{"EPACK_INSECURE_ALLOW_UNPINNED", "EPACK_STRICT_PRODUCTION", "CI", "GITHUB_ACTIONS", "NO_COLOR"} {
		t.Setenv(k, "")
	}
	binDir := t.TempDir()
	bin := rcBuildSDKAdapter(t, binDir)
	pathDir := t.TempDir()
	data, _ := os.ReadFile(bin)
	os.WriteFile(filepath.Join(pathDir, "epack-remote-sdk"), data, 0o755)
	t.Setenv("PATH", pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("EPACK_ADAPTER_DIR", t.TempDir())

	root := t.TempDir()
	yaml := "stream: acme/evidence\nremotes:\n" +
		"  alpha:\n    binary: " + bin + "\n    target: {workspace: acme, environment: prod}\n    extensions: {subject: alice@example.com}\n" +
		"  beta:\n    adapter: sdk\n    extensions: {no_whoami: true}\n" +
		"  gamma:\n    adapter: sdk\n"
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// A lockfile with a pin for another platform that must be kept.
	os.WriteFile(filepath.Join(root, "epack.lock.yaml"), []byte("schema_version: 1\nremotes:\n  alpha:\n    kind: external\n    platforms:\n      plan9/386:\n        digest: sha256:"+strings.Repeat("ab", 32)+"\n"), 0o644)

	// Before locking: unpinned adapters are refused.
	out, errOut, code := rcRun(t, root, "remote", "whoami", "alpha", "--json")
	if code != 10 || !strings.Contains(out, "not pinned in lockfile") {
		t.Fatalf("unpinned whoami: exit %d\n%s\n%s", code, out, errOut)
	}

	out, errOut, code = rcRun(t, root, "lock", "--json")
	if code != 0 {
		t.Fatalf("lock: exit %d\n%s\n%s", code, out, errOut)
	}
	var lockOut struct {
		Locked []struct{ Remote, Origin, Digest, Path string }
	}
	if err := json.Unmarshal([]byte(out), &lockOut); err != nil || len(lockOut.Locked) != 3 {
		t.Fatalf("lock json %q %v", out, err)
	}
	if lockOut.Locked[0].Remote != "alpha" || lockOut.Locked[0].Origin != "binary" || lockOut.Locked[1].Origin != "path" || !strings.HasPrefix(lockOut.Locked[0].Digest, "sha256:") {
		t.Fatalf("lock json %+v", lockOut)
	}
	lockFile, _ := os.ReadFile(filepath.Join(root, "epack.lock.yaml"))
	if !strings.Contains(string(lockFile), "plan9/386") || !strings.Contains(string(lockFile), lockOut.Locked[0].Digest) || !strings.Contains(string(lockFile), "kind: external") {
		t.Fatalf("lockfile:\n%s", lockFile)
	}

	// Human whoami of one remote.
	out, errOut, code = rcRun(t, root, "remote", "whoami", "alpha", "--no-color", "--frozen")
	if code != 0 || !strings.Contains(out, "[OK] Authenticated to alpha") || !strings.Contains(out, "Subject: alice@example.com") || !strings.Contains(out, "Issuer:  test-issuer") {
		t.Fatalf("whoami human: exit %d\n%s\n%s", code, out, errOut)
	}
	// All remotes, JSON.
	out, errOut, code = rcRun(t, root, "remote", "whoami", "--json")
	if code != 0 {
		t.Fatalf("whoami json: exit %d\n%s\n%s", code, out, errOut)
	}
	var who struct {
		Identities []map[string]any `json:"identities"`
	}
	if err := json.Unmarshal([]byte(out), &who); err != nil || len(who.Identities) != 3 {
		t.Fatalf("%q %v", out, err)
	}
	a, b, c := who.Identities[0], who.Identities[1], who.Identities[2]
	if a["remote"] != "alpha" || a["authenticated"] != true || a["subject"] != "alice@example.com" || a["supported"] != true {
		t.Errorf("alpha %v", a)
	}
	if b["remote"] != "beta" || b["supported"] != false || !strings.Contains(b["error"].(string), "not support") {
		t.Errorf("beta %v", b)
	}
	if c["remote"] != "gamma" || c["authenticated"] != false || c["supported"] != true {
		t.Errorf("gamma %v", c)
	}
	out, _, code = rcRun(t, root, "remote", "whoami", "--no-color")
	if code != 0 || !strings.Contains(out, "Authentication Status") || !strings.Contains(out, "? beta: whoami not supported by adapter") || !strings.Contains(out, "○ Not authenticated to gamma") {
		t.Fatalf("whoami all human: %d\n%s", code, out)
	}

	// The adapter changes after lock: refused with the digest exit status.
	os.WriteFile(bin, append(data, []byte("tampered")...), 0o755)
	out, errOut, code = rcRun(t, root, "remote", "whoami", "alpha")
	if code != 11 || !strings.Contains(errOut, "digest mismatch") {
		t.Fatalf("tampered: exit %d\n%s\n%s", code, out, errOut)
	}
	// Re-locking pins the new bytes.
	out, _, code = rcRun(t, root, "lock", "alpha", "--no-color")
	if code != 0 || !strings.Contains(out, "[OK] alpha: updated sha256:") {
		t.Fatalf("relock: %d %s", code, out)
	}

	// Unknown remote.
	_, errOut, code = rcRun(t, root, "remote", "whoami", "nope")
	if code == 0 || !strings.Contains(errOut, `remote "nope" not found`) {
		t.Fatalf("unknown: %d %s", code, errOut)
	}
	// Strict production refuses the insecure override before running anything.
	t.Setenv("EPACK_STRICT_PRODUCTION", "1")
	_, errOut, code = rcRun(t, root, "remote", "whoami", "--insecure-allow-unpinned")
	if code == 0 || !strings.Contains(errOut, "strict production mode forbids insecure execution overrides for whoami_cli") {
		t.Fatalf("strict: %d %s", code, errOut)
	}
	t.Setenv("EPACK_STRICT_PRODUCTION", "")
	_, errOut, code = rcRun(t, root, "remote", "whoami", "--frozen", "--insecure-allow-unpinned")
	if code == 0 || !strings.Contains(errOut, "cannot be used with --frozen") {
		t.Fatalf("frozen+unpinned: %d %s", code, errOut)
	}
}

func TestRemoteList(t *testing.T) {
	t.Setenv("EPACK_ADAPTER_DIR", t.TempDir())
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte("stream: s\nremotes:\n"+
		"  zed:\n    source: acme/epack-remote-zz@^1.0.0\n    target: {workspace: w}\n"+
		"  abc:\n    binary: /opt/epack-remote-x\n    target: {workspace: acme, environment: prod}\n    insecure_endpoint: https://api.example.com\n"+
		"  mid:\n    adapter: filesystem\n"), 0o644)
	out, errOut, code := rcRun(t, root, "remote", "list", "--json")
	if code != 0 {
		t.Fatalf("%d %s %s", code, out, errOut)
	}
	var l struct {
		Remotes []map[string]any `json:"remotes"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Remotes) != 3 {
		t.Fatalf("%s %v", out, err)
	}
	if l.Remotes[0]["name"] != "abc" || l.Remotes[0]["adapter"] != "x" || l.Remotes[0]["workspace"] != "acme" || l.Remotes[0]["insecure_endpoint"] != "https://api.example.com" {
		t.Errorf("%v", l.Remotes[0])
	}
	if l.Remotes[1]["name"] != "mid" || l.Remotes[2]["name"] != "zed" || l.Remotes[2]["adapter"] != "zz" || l.Remotes[2]["source"] == nil {
		t.Errorf("%v", l.Remotes)
	}
	out, _, code = rcRun(t, root, "remote", "ls")
	for _, want := range []string{"Configured Remotes", "x (external)", "Binary:      /opt/epack-remote-x", "zz (source)", "Workspace:   acme", "Environment: prod", "(insecure override)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("human list lacks %q:\n%s", want, out)
		}
	}

	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "epack.yaml"), []byte("stream: s\nremotes: {}\ncollectors: {x: {}}\n"), 0o644)
	out, errOut, code = rcRun(t, empty, "remote", "list", "--json")
	if code != 0 || strings.TrimSpace(out) != "{\n  \"remotes\": []\n}" {
		t.Errorf("empty json: %d %q %s", code, out, errOut)
	}
	out, _, _ = rcRun(t, empty, "remote", "list")
	if !strings.Contains(out, "No remotes configured.") {
		t.Errorf("empty human: %q", out)
	}
	out, _, _ = rcRun(t, empty, "remote", "whoami", "--json")
	if !strings.Contains(out, `"identities": []`) {
		t.Errorf("empty whoami: %q", out)
	}
	_, errOut, code = rcRun(t, t.TempDir(), "remote", "list")
	if code == 0 || errOut == "" {
		t.Errorf("outside a project: %d %q", code, errOut)
	}
}
