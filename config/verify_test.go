package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/evidencerelay/epack/config"
)

// verify: is the signer policy: paths become absolute against the project
// root, and an environment may replace strict and the signers.
func TestVerifyPolicyLoadsAndOverrides(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	yml := `remotes:
  origin:
    adapter: filesystem
    verify:
      strict: true
      signers:
        - key: keys/ci.pub
        - issuer: https://token.actions.githubusercontent.com
          subject_regexp: ^https://github\.com/acme/evidence/
      trust_root: sigstore/trusted_root.json
environments:
  dev:
    remotes:
      origin:
        verify:
          strict: false
  audit:
    remotes:
      origin:
        verify:
          signers: [{key: /etc/epack/auditor.pub}]
`
	if err := os.WriteFile(filepath.Join(root, config.ConfigFileName), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.ResolveRemote("origin", "")
	if err != nil {
		t.Fatal(err)
	}
	want := config.RemoteVerify{Strict: true, TrustRoot: filepath.Join(root, "sigstore/trusted_root.json"), Signers: []config.VerifySigner{
		{Key: filepath.Join(root, "keys/ci.pub")},
		{Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: `^https://github\.com/acme/evidence/`},
	}}
	if !reflect.DeepEqual(base.Verify, want) {
		t.Fatalf("base verify\n%+v\nwant\n%+v", base.Verify, want)
	}
	dev, err := c.ResolveRemote("origin", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if dev.Verify.Strict || len(dev.Verify.Signers) != 2 {
		t.Fatalf("dev: %+v (strict false written in the override must win, signers kept)", dev.Verify)
	}
	audit, err := c.ResolveRemote("origin", "audit")
	if err != nil {
		t.Fatal(err)
	}
	if !audit.Verify.Strict || !reflect.DeepEqual(audit.Verify.Signers, []config.VerifySigner{{Key: "/etc/epack/auditor.pub"}}) {
		t.Fatalf("audit: %+v", audit.Verify)
	}
	// The base is not changed by resolving an override.
	again, _ := c.ResolveRemote("origin", "")
	if !reflect.DeepEqual(again.Verify, want) {
		t.Fatalf("resolving overrides changed the base: %+v", again.Verify)
	}
}
