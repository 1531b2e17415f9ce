package sourceinstall

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/remote"
)

// buildFilesystemAdapter builds the real epack-remote-filesystem adapter.
func buildFilesystemAdapter(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds an adapter binary")
	}
	out := filepath.Join(testkit.Binaries(t, "./cmd/epack-remote-filesystem"), "epack-remote-filesystem")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSessionInstallsManagedAdapter is the push/pull path: a source remote
// that is locked but not installed is `managed`; the session asks, installs
// through Installer (the `epack sync` code) and runs the verified adapter.
// Without an install (frozen CI, non-interactive) the error names `epack sync`.
func TestSessionInstallsManagedAdapter(t *testing.T) {
	bin := buildFilesystemAdapter(t)
	root := t.TempDir()
	yaml := "stream: acme/prod\nremotes:\n  origin:\n    source: acme/epack-remote-filesystem@^1\n    transport:\n      file_root: " + filepath.Join(root, "registry") + "\n"
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	gh := sourceinstalltest.NewGitHub(t, "acme", "epack-remote-filesystem")
	ss := sourceinstalltest.NewSigstore(t)
	name := AssetName("filesystem", config.PlatformKey())
	gh.Add(&sourceinstalltest.Release{Tag: "v1.0.0", Assets: map[string][]byte{
		name:             bin,
		BundleName(name): ss.SignAsset(t, name, bin, sourceinstalltest.GitHubID("acme", "epack-remote-filesystem", "v1.0.0")),
	}})
	opts := Options{
		GitHub:   &GitHub{BaseURL: gh.URL(), HTTP: gh.HTTPClient()},
		Verifier: NewVerifier(ss.TrustedMaterial(), false),
	}

	project, err := config.LoadProject(root)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := config.LoadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := LockSource(ctx, project, lock, "origin", nil, opts); err != nil {
		t.Fatal(err)
	}
	if err := lock.Save(root); err != nil {
		t.Fatal(err)
	}
	if lock, err = config.LoadLock(root); err != nil {
		t.Fatal(err)
	}
	r, err := project.Config.ResolveRemote("origin", "")
	if err != nil {
		t.Fatal(err)
	}

	// Frozen CI with nobody to answer: a clear error naming epack sync.
	for _, prompt := range []func(string, string) bool{nil, func(string, string) bool { return false }} {
		_, err = remote.Open(ctx, remote.SessionOptions{
			ProjectRoot: root, Remote: r, Lock: lock,
			Policy: remote.Policy{Frozen: true, Component: "push"},
			Prompt: prompt, Install: Installer(root, lock, opts),
		})
		if !errcode.Has(err, errcode.AdapterNotFound) || errcode.HintOf(err) != "run 'epack sync' to install it" {
			t.Fatalf("without install: %v (hint %q)", err, errcode.HintOf(err))
		}
	}

	// Prompt → install → verified run.
	var asked []string
	s, err := remote.Open(ctx, remote.SessionOptions{
		ProjectRoot: root, Remote: r, Lock: lock,
		Policy: remote.Policy{Frozen: true, Component: "push"},
		Prompt: func(remoteName, adapterName string) bool {
			asked = append(asked, remoteName+"/"+adapterName)
			return true
		},
		Install: Installer(root, lock, opts),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(asked) != 1 || asked[0] != "origin/filesystem" {
		t.Errorf("prompted %v", asked)
	}
	res := s.Resolved()
	want := filepath.Join(root, ".epack", "remotes", "origin", "v1.0.0", runtime.GOOS+"-"+runtime.GOARCH, "epack-remote-filesystem")
	if res.Status != remote.StatusVerified || res.Origin != remote.OriginInstalled || res.Path != want {
		t.Fatalf("resolved = %+v", res)
	}
	if caps := s.Capabilities(); caps == nil || !caps.Features.PrepareFinalize {
		t.Fatalf("capabilities = %+v", caps)
	}
}
