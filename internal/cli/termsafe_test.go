package cli_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/pack"
)

// Text from adapters and registries (error messages, whoami identities,
// release fields) reached the terminal raw, so a hostile adapter or a
// tampered registry record could clear the screen, retitle the window or
// draw a fake "[OK]" line with escape sequences.
func TestAdapterTextIsNotInterpretedByTheTerminal(t *testing.T) {
	for _, k := range []string{"EPACK_INSECURE_ALLOW_UNPINNED", "EPACK_STRICT_PRODUCTION", "CI", "GITHUB_ACTIONS", "NO_COLOR"} {
		t.Setenv(k, "")
	}
	const hostile = `boom \u001b[2J\u001b]0;TITLE\u0007\r\u009b31m\u202eFAKE`
	script := "#!/bin/sh\n" +
		"if [ \"$1\" = \"--capabilities\" ]; then\n" +
		`echo '{"type":"capabilities","protocol_version":1,"deploy_protocol_version":1,"kind":"remote_adapter","name":"esc","features":{"push":true,"pull":true,"whoami":true}}'` + "\nexit 0\nfi\n" +
		"cat >/dev/null\n" +
		`printf '%s\n' '{"ok":false,"type":"error","error":{"code":"server_error","message":"` + hostile + `","retryable":false}}'` + "\n"
	bin := filepath.Join(t.TempDir(), "epack-remote-esc")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte("stream: acme/prod\nremotes:\n  esc:\n    binary: "+bin+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pull error", []string{"pull", "esc", "-o", "x.epack", "--insecure-allow-unpinned"}},
		{"whoami failure", []string{"remote", "whoami", "esc", "--insecure-allow-unpinned"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := rcRun(t, root, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0\n%s\n%s", out, errOut)
			}
			all := out + errOut
			if !strings.Contains(all, "boom") {
				t.Fatalf("adapter message not shown:\n%s", all)
			}
			for _, bad := range []string{"\x1b", "\a", "\r", "\u009b", "\u202e"} {
				if strings.Contains(all, bad) {
					t.Fatalf("output carries control character %q from the adapter:\n%q", bad, all)
				}
			}
		})
	}
}

// A pack author controls the manifest's stream, sources and content types,
// which inspect and verify printed raw.
func TestPackTextIsNotInterpretedByTheTerminal(t *testing.T) {
	for _, k := range []string{"CI", "GITHUB_ACTIONS", "NO_COLOR"} {
		t.Setenv(k, "")
	}
	data := []byte(`{"a":1}`)
	sum := sha256.Sum256(data)
	art := pack.Artifact{Type: "embedded", Path: "artifacts/a.json", Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	m, err := json.Marshal(map[string]any{
		"spec_version": "1.0", "stream": "acme/prod\x1b]0;TITLE\x07\x1b[2J", "generated_at": "2026-11-30T02:21:16Z",
		"pack_digest": pack.ComputePackDigest([]pack.Artifact{art}),
		"sources":     []any{map[string]any{"name": "src\x1b[31m", "version": "1\u009b0m"}},
		"artifacts":   []any{map[string]any{"type": art.Type, "path": art.Path, "digest": art.Digest, "size": art.Size, "content_type": "text/plain\x1b[5m"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"manifest.json", m}, {art.Path, data}} {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.epack"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"inspect", "p.epack"}, {"verify", "p.epack"}} {
		t.Run(args[0], func(t *testing.T) {
			out, errOut, code := rcRun(t, dir, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, "acme/prod") {
				t.Fatalf("stream not shown:\n%s", out)
			}
			for _, bad := range []string{"\x1b", "\a", "\u009b"} {
				if strings.Contains(out+errOut, bad) {
					t.Fatalf("output carries control character %q from the pack:\n%q", bad, out+errOut)
				}
			}
		})
	}
}
