package sourceinstall

import (
	"context"
	"github.com/evidencerelay/epack/internal/audit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// --insecure-skip-verify is allowed only because it is audited: with an
// audit log that cannot be written (a dangling symbolic link), the install
// used to go on unaudited. It must fail, naming the audit log, and leave no
// adapter binary behind.
func TestInsecureInstallFailsClosedWithoutAudit(t *testing.T) {
	f := lockedFixture(t)
	name := AssetName("vault", here)
	f.gh.SetAsset("v1.0.0", BundleName(name), nil)
	if err := os.MkdirAll(filepath.Join(f.root, ".epack"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(f.root, "gone"), filepath.Join(f.root, audit.File)); err != nil {
		t.Fatal(err)
	}
	o := f.opts()
	o.InsecureSkipVerify = true
	o.Stderr = &strings.Builder{}
	_, err := InstallResult(context.Background(), f.root, f.remote("origin"), f.lock, o)
	if !errcode.Has(err, errcode.PolicyViolation) || !strings.Contains(err.Error(), filepath.Join(f.root, audit.File)) {
		t.Fatalf("err = %v, want a policy_violation naming the audit log", err)
	}
	if ents, _ := os.ReadDir(installDir(f, "v1.0.0")); len(ents) > 0 {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "epack-remote-") {
				t.Fatalf("adapter installed unaudited: %v", e.Name())
			}
		}
	}
}
