package push_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
	"github.com/evidencerelay/epack/push"
)

// TestPushSourceRemoteOnCleanCheckout: a source remote pinned in the
// lockfile but not installed. Frozen with nobody to answer → an error naming
// `epack sync`; with the prompt answered → install (Sigstore-verified), a
// verified run and a receipt.
func TestPushSourceRemoteOnCleanCheckout(t *testing.T) {
	t.Parallel()
	bin := e2e.BinDir(t, binDir)
	adapter, err := os.ReadFile(filepath.Join(bin, "epack-remote-filesystem"))
	if err != nil {
		t.Fatal(err)
	}
	gh := sourceinstalltest.NewGitHub(t, "acme", "epack-remote-filesystem")
	ss := sourceinstalltest.NewSigstore(t)
	asset := sourceinstall.AssetName("filesystem", config.PlatformKey())
	gh.Add(&sourceinstalltest.Release{Tag: "v1.2.0", Assets: map[string][]byte{
		asset:                           adapter,
		sourceinstall.BundleName(asset): ss.SignAsset(t, asset, adapter, sourceinstalltest.GitHubID("acme", "epack-remote-filesystem", "v1.2.0")),
	}})
	src := sourceinstall.Options{GitHub: &sourceinstall.GitHub{BaseURL: gh.URL(), HTTP: gh.HTTPClient()},
		Verifier: sourceinstall.NewVerifier(ss.TrustedMaterial(), false), Stderr: io.Discard, Component: "push"}

	root := e2e.Project(t, bin, "stream: acme/prod\nremotes:\n  origin:\n    source: acme/epack-remote-filesystem@^1.2\n    transport:\n      file_root: .epack/registry\n")
	os.MkdirAll(filepath.Join(root, ".epack", "registry"), 0o755)
	project, err := config.LoadProject(root)
	if err != nil {
		t.Fatal(err)
	}
	lock, _ := config.LoadLock(root)
	if err := sourceinstall.LockSource(context.Background(), project, lock, "origin", nil, src); err != nil {
		t.Fatal(err)
	}
	if err := lock.Save(root); err != nil {
		t.Fatal(err)
	}
	packPath := filepath.Join(root, "dist", "acme.epack")
	e2e.WritePack(t, packPath, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})

	// The installer push uses is the one 'epack sync' uses, talking to the
	// test GitHub and Sigstore (passed in, not set process-wide).
	installer := sourceinstall.Installer(root, lock, src)

	// Frozen CI, non-interactive: nothing installed, error names epack sync.
	o := push.Options{ProjectDir: root, Remote: "origin", PackPath: packPath, NonInteractive: true, Stderr: io.Discard, Installer: installer}
	o.Secure.Frozen = true
	_, err = push.Push(context.Background(), o)
	if err == nil || !strings.Contains(err.Error()+errcode.HintOf(err), "epack sync") {
		t.Fatalf("frozen without install: %v (hint %q)", err, errcode.HintOf(err))
	}

	// Prompt → install → verified run → receipt.
	var asked []string
	o = push.Options{ProjectDir: root, Remote: "origin", PackPath: packPath, Stderr: io.Discard, Installer: installer,
		PromptInstallAdapter: func(r, a string) bool { asked = append(asked, r+"/"+a); return true }}
	o.Secure.Frozen = true
	res, err := push.Push(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, ",") != "origin/filesystem" {
		t.Errorf("prompted for %v", asked)
	}
	installed := filepath.Join(root, ".epack", "remotes", "origin", "v1.2.0", strings.Replace(config.PlatformKey(), "/", "-", 1), "epack-remote-filesystem")
	if fi, err := os.Stat(installed); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("adapter not installed at %s: %v", installed, err)
	}
	if res.ReceiptPath == "" || res.Release == nil || !strings.HasPrefix(res.Release.ReleaseID, "rel_") {
		t.Fatalf("result %+v", res)
	}
	// A second push runs the installed, verified adapter without asking.
	asked = nil
	if _, err := push.Push(context.Background(), o); err != nil || len(asked) != 0 {
		t.Fatalf("second push: %v, asked %v", err, asked)
	}
}
