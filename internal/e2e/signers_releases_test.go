package e2e_test

import (
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// keyIDOf is the key id of a PEM public key file: hex SHA-256 of its PKIX DER.
func keyIDOf(t *testing.T, pub string) string {
	t.Helper()
	raw, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s is not PEM", pub)
	}
	if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}

// TestReleasesListSigners: a pack signed with a key (epack sign --key
// --no-tlog) and pushed to the local filesystem registry through a remote
// whose signer policy names the key is listed by 'epack releases local' with
// that signer, verified, by key id; the same registry pushed to through a
// remote without a policy lists the signer as claimed (unchecked, no key
// id); an unsigned pack lists signers []. The text output has a SIGNERS
// column. Nothing secret is in the registry: no private key bytes, no key
// file path.
func TestReleasesListSigners(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	root := e2e.Project(t, bin, "")
	priv, pub := e2e.WriteKeyPair(t, filepath.Join(root, "keys"), "ci", elliptic.P256())
	y := `stream: acme/prod
remotes:
  local:
    adapter: filesystem
    target: {workspace: acme, environment: prod}
    transport: {file_root: .epack/registry}
    verify:
      signers:
        - key: keys/ci.pub
  open:
    adapter: filesystem
    target: {workspace: acme, environment: prod}
    transport: {file_root: .epack/registry}
`
	p := lockedFilesystemProject(t, bin, root, y, "local", "open")
	e2e.WritePack(t, filepath.Join(root, "signed.epack"), "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	e2e.WritePack(t, filepath.Join(root, "claimed.epack"), "acme/prod", e2e.File{Name: "c.json", Data: []byte(`{"c":3}`)})
	e2e.WritePack(t, filepath.Join(root, "unsigned.epack"), "acme/prod", e2e.File{Name: "b.json", Data: []byte(`{"b":2}`)})
	p.runJSON(t, "sign", "signed.epack", "--key", priv, "--no-tlog")
	p.runJSON(t, "sign", "claimed.epack", "--key", priv, "--no-tlog")

	ids := map[string]string{}
	for _, x := range []struct{ remote, pack string }{{"local", "signed"}, {"open", "claimed"}, {"local", "unsigned"}} {
		out, errOut, code := p.run(t, "push", x.remote, x.pack+".epack", "--frozen", "--json")
		wantExit(t, "push "+x.pack, code, 0, out, errOut)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("push %s: %v\n%s", x.pack, err, out)
		}
		ids[res["release_id"].(string)] = x.pack
	}

	out, errOut, code := p.run(t, "releases", "local", "--json", "--frozen")
	wantExit(t, "releases --json", code, 0, out, errOut)
	var l struct {
		Releases []struct {
			ReleaseID string           `json:"release_id"`
			Signers   []map[string]any `json:"signers"`
		} `json:"releases"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("releases --json: %v\n%s", err, out)
	}
	if len(l.Releases) != 3 {
		t.Fatalf("%d releases listed, want 3:\n%s", len(l.Releases), out)
	}
	keyID := keyIDOf(t, pub)
	for _, r := range l.Releases {
		if r.Signers == nil {
			t.Fatalf("release %s: signers is not an array:\n%s", r.ReleaseID, out)
		}
		switch ids[r.ReleaseID] {
		case "signed":
			if len(r.Signers) != 1 || r.Signers[0]["kind"] != "key" || r.Signers[0]["key_id"] != keyID || r.Signers[0]["verified"] != true {
				t.Errorf("signed release: signers %v, want key %s verified", r.Signers, keyID)
			}
		case "claimed":
			if len(r.Signers) != 1 || r.Signers[0]["kind"] != "key" || r.Signers[0]["verified"] != false || r.Signers[0]["key_id"] != nil {
				t.Errorf("release pushed without a policy: signers %v, want one claimed key signer", r.Signers)
			}
		case "unsigned":
			if len(r.Signers) != 0 {
				t.Errorf("unsigned release: signers %v, want []", r.Signers)
			}
		default:
			t.Errorf("release %s was not pushed here", r.ReleaseID)
		}
	}
	if !strings.Contains(out, `"signers": []`) && !strings.Contains(out, `"signers":[]`) {
		t.Errorf("no empty signers array in:\n%s", out)
	}

	out, errOut, code = p.run(t, "releases", "local", "--frozen")
	wantExit(t, "releases", code, 0, out, errOut)
	if !strings.Contains(out, "SIGNERS") || !strings.Contains(out, "key:"+keyID[:12]+"…(verified)") || !strings.Contains(out, "key:?") {
		t.Errorf("text output lacks the signers:\n%s", out)
	}

	// The registry holds identities only.
	privPEM, _ := os.ReadFile(priv)
	privBody := strings.Split(strings.TrimSpace(string(privPEM)), "\n")[1]
	filepath.WalkDir(filepath.Join(root, ".epack", "registry"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".epack") || strings.Contains(path, "blobs") {
			return nil
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), privBody) || strings.Contains(string(data), "ci.pub") || strings.Contains(string(data), "ci.pem") {
			t.Errorf("%s holds key material or a key file's name", path)
		}
		return nil
	})
}
