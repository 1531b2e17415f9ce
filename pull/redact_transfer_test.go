package pull_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pull"
)

// A download URL that carries a secret value in its path and that the URL
// policy refuses: neither the error nor the audit line shows the secret.
func TestRefusedDownloadURLRedacted(t *testing.T) {
	const secret = "s3cr3t-path-value"
	t.Setenv("PULL_SECRET", secret)
	e := newEnv(t, "")
	outside := t.TempDir()
	setExt(t, e, `,"download_url":"file://`+outside+`/`+secret+`/x.epack"`)
	cfg := filepath.Join(e.root, "epack.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withSecret := strings.Replace(string(b), "    transport:", "    secrets: [PULL_SECRET]\n    transport:", 1)
	if withSecret == string(b) {
		t.Fatalf("could not add secrets to:\n%s", b)
	}
	if err := os.WriteFile(cfg, []byte(withSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = pull.Pull(context.Background(), e.opts(filepath.Join(e.root, "out.epack")))
	if !errcode.Has(err, errcode.PathTraversal) {
		t.Fatalf("pull: %v, want %s", err, errcode.PathTraversal)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the secret: %v", err)
	}
	audit, rerr := os.ReadFile(filepath.Join(e.root, ".epack", "audit.log"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(string(audit), "ssrf_blocked_url") || strings.Contains(string(audit), secret) {
		t.Errorf("audit log:\n%s", audit)
	}
}
