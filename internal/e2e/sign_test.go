package e2e_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/sigstoretest"
)

func wantExit(t *testing.T, what string, code, want int, out, errOut string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, code, want, out, errOut)
	}
}

func inspectDigests(t *testing.T, p *proj, pk string) (packDigest, manifestDigest string) {
	t.Helper()
	m := p.runJSON(t, "inspect", pk)
	return m["pack_digest"].(string), m["manifest_digest"].(string)
}

func TestSignAndVerifyWithKeysThroughCLI(t *testing.T) {
	p := newProj(t, fsStore())
	pk := filepath.Join(p.root, "p.epack")
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	priv, pub := e2e.WriteKeyPair(t, filepath.Join(p.root, "keys"), "ci", elliptic.P256())
	_, otherPub := e2e.WriteKeyPair(t, filepath.Join(p.root, "keys"), "other", elliptic.P256())
	pd, md := inspectDigests(t, p, "p.epack")

	res := p.runJSON(t, "sign", "p.epack", "--key", priv, "--no-tlog")
	if res["kind"] != "key" || res["signatures"] != float64(1) || res["pack_digest"] != pd {
		t.Fatalf("sign: %v", res)
	}
	if pd2, md2 := inspectDigests(t, p, "p.epack"); pd2 != pd || md2 != md {
		t.Fatalf("signing changed the digests: %s %s → %s %s", pd, md, pd2, md2)
	}
	out, errOut, code := p.run(t, "verify", "p.epack", "--key", pub)
	wantExit(t, "verify with the signer's key", code, 0, out, errOut)
	if !strings.Contains(out, "1 checked") {
		t.Fatalf("verify output does not report the checked signature:\n%s", out)
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--key", otherPub)
	wantExit(t, "verify with another key", code, exitstatus.Signature, out, errOut)
	out, errOut, code = p.run(t, "verify", "p.epack")
	wantExit(t, "verify without a policy", code, exitstatus.Signature, out, errOut)
	for _, flag := range []string{"--key", "--issuer", "--integrity-only"} {
		if !strings.Contains(errOut, flag) {
			t.Fatalf("the no-policy error does not name %s:\n%s", flag, errOut)
		}
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--integrity-only")
	wantExit(t, "verify --integrity-only", code, 0, out, errOut)

	// --json keeps the existing tool's keys (COMPAT §10.4), on success and on exit 12.
	v := p.runJSON(t, "verify", "p.epack", "--key", otherPub, "--key", pub)
	for _, k := range []string{"verified", "artifact_count", "artifact_errors", "attestation_count", "attestation_errors", "attestations", "embedded_errors", "pack_digest", "pack_digest_error", "stream"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verify --json lacks %q: %v", k, v)
		}
	}
	if v["verified"] != true || v["attestation_count"] != float64(1) {
		t.Fatalf("verify --json: %v", v)
	}
	out, _, code = p.run(t, "verify", "p.epack", "--key", otherPub, "--json")
	var bad map[string]any
	if err := json.Unmarshal([]byte(out), &bad); err != nil || code != exitstatus.Signature || bad["verified"] != false {
		t.Fatalf("verify --json with a wrong key: exit %d, %v (%v)", code, bad, err)
	}

	// inspect lists the signature without checking it.
	out, errOut, code = p.run(t, "inspect", "p.epack")
	wantExit(t, "inspect", code, 0, out, errOut)
	if !strings.Contains(out, "Signatures:      1 (not checked") || !strings.Contains(out, "key") {
		t.Fatalf("inspect does not list the signature:\n%s", out)
	}

	// Signing again with the same key replaces; another key adds.
	if r := p.runJSON(t, "sign", "p.epack", "--key", priv, "--no-tlog"); r["replaced"] != true || r["signatures"] != float64(1) {
		t.Fatalf("re-sign: %v", r)
	}
	otherPriv := strings.TrimSuffix(otherPub, ".pub") + ".pem"
	if r := p.runJSON(t, "sign", "p.epack", "--key", otherPriv, "--no-tlog"); r["replaced"] != false || r["signatures"] != float64(2) {
		t.Fatalf("second signer: %v", r)
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--key", otherPub)
	wantExit(t, "verify with the second signer's key", code, 0, out, errOut)

	// Bad input: a public key to sign with, a missing key, a custom log without opt-in.
	out, errOut, code = p.run(t, "sign", "p.epack", "--key", pub, "--no-tlog")
	wantExit(t, "sign with a public key", code, exitstatus.BadInput, out, errOut)
	out, errOut, code = p.run(t, "sign", "p.epack", "--key", priv, "--rekor-url", "http://127.0.0.1:1")
	wantExit(t, "custom rekor without opt-in", code, exitstatus.BadInput, out, errOut)
	if !strings.Contains(errOut, "--allow-custom-sigstore") {
		t.Fatalf("custom URL error does not name the opt-in:\n%s", errOut)
	}
}

func TestKeylessSignAndVerifyThroughCLI(t *testing.T) {
	s := sigstoretest.New(t)
	p := newProj(t, fsStore())
	pk := filepath.Join(p.root, "p.epack")
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	trust := s.WriteTrustedRoot(t)
	const issuer = "https://token.actions.githubusercontent.com"
	const subject = "https://github.com/acme/evidence/.github/workflows/evidence.yml@refs/heads/main"
	tok := s.Token(t, issuer, subject)

	out, errOut, code := p.run(t, "sign", "p.epack", "--oidc-token", tok, "--fulcio-url", s.FulcioURL(), "--rekor-url", s.RekorURL())
	wantExit(t, "keyless sign without opt-in", code, exitstatus.BadInput, out, errOut)
	if s.CountRequests("fulcio") != 0 {
		t.Fatal("the token was sent before the opt-in")
	}
	res := p.runJSON(t, "sign", "p.epack", "--oidc-token", tok, "--fulcio-url", s.FulcioURL(), "--rekor-url", s.RekorURL(), "--allow-custom-sigstore")
	if res["kind"] != "keyless" {
		t.Fatalf("sign: %v", res)
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--trust-root", trust, "--issuer", issuer, "--subject", subject)
	wantExit(t, "keyless verify, right identity", code, 0, out, errOut)
	if !strings.Contains(out, subject) {
		t.Fatalf("verify does not show the signer:\n%s", out)
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--trust-root", trust, "--issuer", issuer, "--subject-regexp", `^https://github\.com/acme/evidence/.+@refs/heads/main$`)
	wantExit(t, "keyless verify, subject regexp", code, 0, out, errOut)
	out, errOut, code = p.run(t, "verify", "p.epack", "--trust-root", trust, "--issuer", issuer, "--subject", subject+"x")
	wantExit(t, "keyless verify, wrong subject", code, exitstatus.Signature, out, errOut)
	if !strings.Contains(out+errOut, "does not allow") {
		t.Fatalf("wrong subject: no reason given:\n%s\n%s", out, errOut)
	}
	out, errOut, code = p.run(t, "verify", "p.epack", "--trust-root", trust, "--insecure-skip-identity-check")
	wantExit(t, "keyless verify, any identity", code, 0, out, errOut)

	// Expired token: refused before anything is contacted.
	before := s.CountRequests("")
	out, errOut, code = p.run(t, "sign", "p.epack", "--oidc-token", s.ExpiredToken(t, issuer, subject), "--fulcio-url", s.FulcioURL(), "--rekor-url", s.RekorURL(), "--allow-custom-sigstore")
	if code == 0 || s.CountRequests("") != before || !strings.Contains(errOut, "expired") {
		t.Fatalf("expired token: exit %d, requests %d→%d\n%s", code, before, s.CountRequests(""), errOut)
	}

	// The ambient token of GitHub Actions is used when no token is given.
	actions := sigstoretest.ActionsTokenServer(t, tok)
	p.env = append(p.env, "ACTIONS_ID_TOKEN_REQUEST_URL="+actions.URL+"/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=bearer-1", "EPACK_OIDC_TOKEN=")
	res = p.runJSON(t, "sign", "p.epack", "--fulcio-url", s.FulcioURL(), "--rekor-url", s.RekorURL(), "--allow-custom-sigstore")
	if res["kind"] != "keyless" || res["replaced"] != false || res["signatures"] != float64(2) {
		t.Fatalf("ambient-token sign: %v", res)
	}
	if got := actions.Audiences(); len(got) != 1 || got[0] != "sigstore" {
		t.Fatalf("audience asked of GitHub Actions: %v", got)
	}
}

// registryFiles lists the files under the project's filesystem registry.
func registryFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	reg := filepath.Join(root, ".epack", "registry")
	filepath.WalkDir(reg, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(reg, path)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// lockedFilesystemProject writes epack.yaml into root (remotes of the
// filesystem adapter on .epack/registry), creates the registry folder and
// pins the named remotes.
func lockedFilesystemProject(t *testing.T, bin, root, epackYAML string, remotes ...string) *proj {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(epackYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".epack", "registry"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &proj{root: root, bin: bin}
	if out, errOut, code := p.run(t, append([]string{"lock"}, remotes...)...); code != 0 {
		t.Fatalf("lock: %s %s", out, errOut)
	}
	return p
}

func TestSignerPolicyOnPushAndPull(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	root := e2e.Project(t, bin, "")
	_, pub := e2e.WriteKeyPair(t, filepath.Join(root, "keys"), "ci", elliptic.P256())
	priv := strings.TrimSuffix(pub, ".pub") + ".pem"
	y := `stream: acme/prod
remotes:
  open:
    adapter: filesystem
    target: {workspace: acme, environment: prod}
    transport: {file_root: .epack/registry}
  strict:
    adapter: filesystem
    target: {workspace: acme, environment: prod}
    transport: {file_root: .epack/registry}
    verify:
      strict: true
      signers:
        - key: keys/ci.pub
  lenient:
    adapter: filesystem
    target: {workspace: acme, environment: prod}
    transport: {file_root: .epack/registry}
    verify:
      signers:
        - key: keys/ci.pub
`
	p := lockedFilesystemProject(t, bin, root, y, "open", "strict", "lenient")
	e2e.WritePack(t, filepath.Join(root, "unsigned.epack"), "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	e2e.WritePack(t, filepath.Join(root, "signed.epack"), "acme/prod", e2e.File{Name: "b.json", Data: []byte(`{"b":2}`)})
	p.runJSON(t, "sign", "signed.epack", "--key", priv, "--no-tlog")

	// Push: strict refuses the unsigned pack before anything is sent.
	before := registryFiles(t, root)
	out, errOut, code := p.run(t, "push", "strict", "unsigned.epack", "--frozen")
	wantExit(t, "strict push of an unsigned pack", code, exitstatus.Signature, out, errOut)
	if after := registryFiles(t, root); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("a refused push changed the registry:\nbefore %v\nafter  %v", before, after)
	}
	if !strings.Contains(errOut, "verify.strict") {
		t.Fatalf("refusal does not say why:\n%s", errOut)
	}
	// Lenient warns and pushes.
	out, errOut, code = p.run(t, "push", "lenient", "unsigned.epack", "--frozen")
	wantExit(t, "lenient push of an unsigned pack", code, 0, out, errOut)
	if !strings.Contains(errOut, "Warning") {
		t.Fatalf("lenient push gave no warning:\n%s", errOut)
	}
	res := p.runJSON(t, "push", "strict", "signed.epack", "--frozen", "--label", "v1.0.0")
	receipt := readReceipt(t, res["receipt_path"].(string))
	signers, _ := receipt["pack"].(map[string]any)["signers"].([]any)
	if len(signers) != 1 || signers[0].(map[string]any)["kind"] != "key" {
		t.Fatalf("push receipt signers: %v", receipt["pack"])
	}

	// Pull: the unsigned pack (pushed through "open") is refused by "strict",
	// and an existing output file stays as it was.
	p.runJSON(t, "push", "open", "unsigned.epack", "--frozen", "--label", "v2.0.0")
	existing := filepath.Join(root, "out.epack")
	if err := os.WriteFile(existing, []byte("previous contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = p.run(t, "pull", "strict", "--version", "v2.0.0", "-o", "out.epack", "--force", "--frozen")
	wantExit(t, "strict pull of an unsigned pack", code, exitstatus.Signature, out, errOut)
	if got, _ := os.ReadFile(existing); !bytes.Equal(got, []byte("previous contents")) {
		t.Fatalf("a refused pull changed the existing file: %q", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, ".out.epack*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	got := p.runJSON(t, "pull", "strict", "--version", "v1.0.0", "-o", "out.epack", "--force", "--frozen")
	pulled, _ := os.ReadFile(existing)
	signed, _ := os.ReadFile(filepath.Join(root, "signed.epack"))
	if !bytes.Equal(pulled, signed) {
		t.Fatalf("pull of the signed pack: %v", got)
	}
	rc := readReceipt(t, got["receipt_path"].(string))
	if s, _ := rc["pack"].(map[string]any)["signers"].([]any); len(s) != 1 {
		t.Fatalf("pull receipt signers: %v", rc["pack"])
	}
	// verify --remote uses the same policy.
	out, errOut, code = p.run(t, "verify", "signed.epack", "--remote", "strict")
	wantExit(t, "verify --remote strict", code, 0, out, errOut)
	out, errOut, code = p.run(t, "verify", "unsigned.epack", "--remote", "strict", "--require-attestation")
	wantExit(t, "verify --remote of an unsigned pack", code, exitstatus.Signature, out, errOut)
}
