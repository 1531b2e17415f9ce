package cli_test

import (
	"crypto/elliptic"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// sigauditPack writes a small pack to dir/p.epack.
func sigauditPack(t *testing.T, dir string) string {
	t.Helper()
	pk := filepath.Join(dir, "p.epack")
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	return pk
}

// TestSignKeyOfflineHintNamesNoTlog: `epack sign --key` without --no-tlog and
// no transparency log to reach exits 15, and the hint says that --no-tlog
// signs with the key alone, offline. The pack is left as it was.
func TestSignKeyOfflineHintNamesNoTlog(t *testing.T) {
	dir := t.TempDir()
	pk := sigauditPack(t, dir)
	before := e2e.FileSHA256(t, pk)
	priv, _ := e2e.WriteKeyPair(t, filepath.Join(dir, "keys"), "ci", elliptic.P256())
	out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", priv,
		"--rekor-url", "http://"+closedAddr(t), "--allow-custom-sigstore")
	if code != 15 {
		t.Fatalf("exit %d, want 15\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "--rekor-url") || !strings.Contains(errOut, "--no-tlog") || !strings.Contains(errOut, "offline") {
		t.Fatalf("the hint does not name --rekor-url, --no-tlog and offline:\n%s", errOut)
	}
	if after := e2e.FileSHA256(t, pk); after != before {
		t.Fatal("a failed sign changed the pack")
	}
	// What the hint says works.
	if out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", priv, "--no-tlog"); code != 0 {
		t.Fatalf("sign --no-tlog: exit %d\n%s\n%s", code, out, errOut)
	}
}
