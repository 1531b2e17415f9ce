package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
