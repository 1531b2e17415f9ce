package push_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/push"
)

// An upload URL that carries a secret value in its path and that the URL
// policy refuses (a file:// path outside file_root is quoted in the error): the error shown to the user and the ssrf_blocked_url
// audit line name the URL with the secret redacted.
func TestRefusedUploadURLRedacted(t *testing.T) {
	const secret = "s3cr3t-path-value"
	t.Setenv("PUSH_SECRET", secret)
	outside := t.TempDir()
	e := newEnv(t, `"upload_urls":["file://`+outside+`/`+secret+`/x.epack"]`, "    secrets: [PUSH_SECRET]\n")
	_, err := push.Push(context.Background(), e.opts())
	if !errcode.Has(err, errcode.PathTraversal) {
		t.Fatalf("push: %v, want %s", err, errcode.PathTraversal)
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), outside) {
		t.Errorf("error %q: secret shown, or the path is not named", err)
	}
	audit, rerr := os.ReadFile(filepath.Join(e.root, ".epack", "audit.log"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(string(audit), "ssrf_blocked_url") || strings.Contains(string(audit), secret) {
		t.Errorf("audit log:\n%s", audit)
	}
}
