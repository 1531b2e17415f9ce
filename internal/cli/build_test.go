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
)

// epackRun runs the CLI in process and returns stdout, stderr and the exit status.
func epackRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("CI", "")
	t.Setenv("GITHUB_ACTIONS", "")
	var so, se bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(stdin), &so, &se)
	return so.String(), se.String(), code
}

func examplesDir(t *testing.T) string {
	d, _ := filepath.Abs("../../examples/evidence")
	return d
}

func TestBuildVerifyInspect(t *testing.T) {
	dir := t.TempDir()
	ex := examplesDir(t)
	out := filepath.Join(dir, "dist", "s.epack")
	so, se, code := epackRun(t, `{"from":"stdin"}`, "build", out, filepath.Join(ex, "iam-policies.json"), filepath.Join(ex, "repos.csv"),
		"--stream", "acme/prod", "--source", "aws:1.2.0", "--file", filepath.Join(ex, "access-review.md")+":reviews/q1.md",
		"--stdin", "stdin.json", "--content-type", "application/json", "--no-color")
	if code != 0 || !strings.Contains(so, "[OK] Built") {
		t.Fatalf("build: %d\n%s\n%s", code, so, se)
	}
	so, se, code = epackRun(t, "", "verify", out, "--no-color", "-v")
	if code != 0 || !strings.Contains(so, "[OK] Verified") || !strings.Contains(so, "artifacts/reviews/q1.md") {
		t.Fatalf("verify: %d\n%s\n%s", code, so, se)
	}
	so, _, code = epackRun(t, "", "verify", out, "--json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(so), &v) != nil || v["ok"] != true || v["artifacts"].(float64) != 4 {
		t.Fatalf("verify json: %s", so)
	}
	so, se, code = epackRun(t, "", "verify", out, "-q")
	if code != 0 || so != "" || se != "" {
		t.Fatalf("quiet: %q %q", so, se)
	}
	so, _, code = epackRun(t, "", "inspect", out)
	for _, want := range []string{"acme/prod", "Pack digest:", "Manifest digest:", "File digest:", "aws 1.2.0", "artifacts/stdin.json", "application/json"} {
		if code != 0 || !strings.Contains(so, want) {
			t.Fatalf("inspect missing %q:\n%s", want, so)
		}
	}
	so, _, code = epackRun(t, "", "inspect", out, "--json")
	if code != 0 || json.Unmarshal([]byte(so), &v) != nil || !strings.HasPrefix(v["file_digest"].(string), "sha256:") || v["checksum"] == "" {
		t.Fatalf("inspect json: %s", so)
	}
}

func TestVerifyFailures(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.json")
	os.WriteFile(src, []byte(`{"value":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`), 0o644)
	out := filepath.Join(dir, "p.epack")
	if _, se, code := epackRun(t, "", "build", out, src, "--stream", "s"); code != 0 {
		t.Fatal(se)
	}
	raw, _ := os.ReadFile(out)
	// Stored entry (incompressible probe is too short, so it is deflated): tamper
	// a byte inside the deflate stream or stored data of the artifact, keeping length.
	i := bytes.Index(raw, []byte("artifacts/a.json"))
	tampered := append([]byte(nil), raw...)
	tampered[i+len("artifacts/a.json")+5] ^= 0x01 // inside the local entry payload
	bad := filepath.Join(dir, "bad.epack")
	os.WriteFile(bad, tampered, 0o600)
	_, se, code := epackRun(t, "", "verify", bad)
	if code == 0 || !strings.Contains(se, "Error: [") {
		t.Fatalf("tampered pack verified: %d %s", code, se)
	}
	os.WriteFile(bad, []byte("not a zip"), 0o600)
	so, se, code := epackRun(t, "", "verify", bad, "--json")
	if code != 2 || !strings.Contains(so, `"code": "invalid_zip"`) {
		t.Fatalf("%d %s %s", code, so, se)
	}
	if _, _, code := epackRun(t, "", "build", out); code != 2 {
		t.Fatal("missing --stream should exit 2, got", code)
	}
	if _, _, code := epackRun(t, "", "build", out, "--stream", "s", "--file", "nocolon"); code != 2 {
		t.Fatal("bad --file should exit 2")
	}
}

func TestVerifyDigestMismatchExit11(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.bin")
	data := make([]byte, 400<<10)
	for i := range data {
		data[i] = byte(i*7919 + i/3) // not compressible enough for deflate to pay
	}
	os.WriteFile(src, data, 0o644)
	out := filepath.Join(dir, "p.epack")
	if _, se, code := epackRun(t, "", "build", out, src, "--stream", "s"); code != 0 {
		t.Fatal(se)
	}
	raw, _ := os.ReadFile(out)
	i := bytes.Index(raw, data[1000:1064])
	if i < 0 {
		t.Skip("artifact was compressed; cannot tamper in place")
	}
	raw[i] ^= 0xff
	os.WriteFile(out, raw, 0o600)
	_, se, code := epackRun(t, "", "verify", out)
	if code != 11 || !strings.Contains(se, "digest_mismatch") {
		t.Fatalf("want exit 11, got %d: %s", code, se)
	}
}

func TestBuildSpacesVerifies(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "spaces.txt")
	os.WriteFile(src, bytes.Repeat([]byte(" "), 1<<20), 0o644)
	out := filepath.Join(dir, "sp.epack")
	if _, se, code := epackRun(t, "", "build", out, src, "--stream", "s"); code != 0 {
		t.Fatal(se)
	}
	if so, se, code := epackRun(t, "", "verify", out); code != 0 {
		t.Fatal(so, se)
	}
}
