package cli_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// sigauditKeyPair writes name.pem (0600) and name.pub into dir, an EC key on
// curve c.
func sigauditKeyPair(t *testing.T, dir, name string, c elliptic.Curve) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(crypto.PublicKey(k.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// sigauditPack writes a small pack to dir/p.epack.
func sigauditPack(t *testing.T, dir string) string {
	t.Helper()
	pk := filepath.Join(dir, "p.epack")
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	return pk
}

// closedPort returns a 127.0.0.1 URL on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestSignKeyOfflineHintNamesNoTlog: `epack sign --key` without --no-tlog and
// no transparency log to reach exits 15, and the hint says that --no-tlog
// signs with the key alone, offline. The pack is left as it was.
func TestSignKeyOfflineHintNamesNoTlog(t *testing.T) {
	dir := t.TempDir()
	pk := sigauditPack(t, dir)
	before := e2e.FileSHA256(t, pk)
	priv, _ := sigauditKeyPair(t, filepath.Join(dir, "keys"), "ci", elliptic.P256())
	out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", priv,
		"--rekor-url", closedPort(t), "--allow-custom-sigstore")
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
