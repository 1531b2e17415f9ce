package cli_test

import (
	"crypto/elliptic"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// TestVerifyFailedKeySignatureNamesItsEntry: a key signature that no given
// key verifies used to print "[FAIL] key : …" naming nobody; it names its
// entry now.
func TestVerifyFailedKeySignatureNamesItsEntry(t *testing.T) {
	dir := t.TempDir()
	sigauditPack(t, dir)
	keys := filepath.Join(dir, "keys")
	priv, pub := e2e.WriteKeyPair(t, keys, "ci", elliptic.P256())
	_, otherPub := e2e.WriteKeyPair(t, keys, "other", elliptic.P384())
	if out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", priv, "--no-tlog"); code != 0 {
		t.Fatalf("sign: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := runEpack(t, dir, nil, "verify", "p.epack", "--key", otherPub)
	if code != 12 {
		t.Fatalf("exit %d, want 12\n%s\n%s", code, out, errOut)
	}
	want := "key entry " + sigauditEntry(t, pub)[:12] + "…: "
	if !strings.Contains(out, want) || strings.Contains(out, "key : ") {
		t.Fatalf("stdout does not name the entry (%q):\n%s", want, out)
	}
	// The verified line still names the key file.
	out, errOut, code = runEpack(t, dir, nil, "verify", "p.epack", "--key", pub)
	if code != 0 || !strings.Contains(out, "key "+pub) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}
