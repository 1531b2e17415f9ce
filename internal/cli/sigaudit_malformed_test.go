package cli_test

import (
	"archive/zip"
	"crypto/elliptic"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/e2e"
)

// sigauditReplaceAttestations rewrites the pack at path with every
// attestation entry's bytes replaced by data (other entries copied raw).
func sigauditReplaceAttestations(t *testing.T, path string, data []byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	n := 0
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "attestations/") || !strings.HasSuffix(f.Name, ".sigstore.json") {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: time.Now().UTC().Truncate(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no attestation to replace")
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyMalformedBundleIsBadInput: a pack whose signature entry is not a
// Sigstore bundle (not JSON, wrong media type, no envelope) is malformed
// input, exit 2 with invalid_attestation (issue 13: "2 for malformed
// input"); a well-formed signature by another key stays exit 12.
func TestVerifyMalformedBundleIsBadInput(t *testing.T) {
	dir := t.TempDir()
	pk := sigauditPack(t, dir)
	keys := filepath.Join(dir, "keys")
	priv, pub := e2e.WriteKeyPair(t, keys, "ci", elliptic.P256())
	_, otherPub := e2e.WriteKeyPair(t, keys, "other", elliptic.P256())
	if out, errOut, code := runEpack(t, dir, nil, "sign", "p.epack", "--key", priv, "--no-tlog"); code != 0 {
		t.Fatalf("sign: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := runEpack(t, dir, nil, "verify", "p.epack", "--key", otherPub); code != 12 {
		t.Fatalf("another key: exit %d, want 12\n%s\n%s", code, out, errOut)
	}
	signed, err := os.ReadFile(pk)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, bundle string }{
		{"not JSON", "{"},
		{"wrong media type", `{"mediaType":"application/vnd.dev.sigstore.bundle.v9+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{}}`},
		{"no envelope", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(pk, signed, 0o644); err != nil {
				t.Fatal(err)
			}
			sigauditReplaceAttestations(t, pk, []byte(c.bundle))
			out, errOut, code := runEpack(t, dir, nil, "verify", "p.epack", "--key", pub, "--json")
			if code != 2 || !strings.Contains(errOut, "invalid_attestation") {
				t.Fatalf("exit %d, want 2 with invalid_attestation\n%s\n%s", code, out, errOut)
			}
			var res struct {
				Verified   bool `json:"verified"`
				Signatures []struct {
					Code string `json:"code"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("--json output %q: %v", out, err)
			}
			if res.Verified || len(res.Signatures) != 1 || res.Signatures[0].Code != "invalid_attestation" {
				t.Fatalf("--json: %s", out)
			}
		})
	}
}
