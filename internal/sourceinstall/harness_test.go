package sourceinstall

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
)

type (
	certID      = sourceinstalltest.CertID
	fakeRelease = sourceinstalltest.Release
)

var githubID = sourceinstalltest.GitHubID

func newTestSigstore(t *testing.T) *sourceinstalltest.Sigstore {
	return sourceinstalltest.NewSigstore(t)
}

// ---------------------------------------------------------------------------
// Test fixture: a project, a fake GitHub and a virtual Sigstore.

type fixture struct {
	t       *testing.T
	root    string
	gh      *sourceinstalltest.GitHub
	ss      *sourceinstalltest.Sigstore
	project *config.Project
	lock    *config.LockFile
}

const (
	testOwner = "acme"
	testRepo  = "epack-remote-vault"
)

// newFixture writes epack.yaml with remote "origin" (adapter "vault",
// inferred from the source) and extra YAML lines appended under the remote.
func newFixture(t *testing.T, constraint string, topLevel string) *fixture {
	t.Helper()
	f := &fixture{t: t, root: t.TempDir(), gh: sourceinstalltest.NewGitHub(t, testOwner, testRepo), ss: newTestSigstore(t)}
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  origin:\n    source: %s/%s@%s\n%s", testOwner, testRepo, constraint, topLevel)
	if err := os.WriteFile(filepath.Join(f.root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	f.reload()
	return f
}

func (f *fixture) reload() {
	f.t.Helper()
	cfg, err := config.Load(f.root)
	if err != nil {
		f.t.Fatal(err)
	}
	f.project = &config.Project{Root: f.root, ConfigPath: filepath.Join(f.root, "epack.yaml"), Config: cfg}
	if f.lock == nil {
		if f.lock, err = config.LoadLock(f.root); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) opts() Options {
	gh := &GitHub{BaseURL: f.gh.URL(), HTTP: f.gh.HTTPClient(), Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	return Options{GitHub: gh, Verifier: NewVerifier(f.ss.TrustedMaterial(), false), Stderr: &strings.Builder{}}
}

// binary returns deterministic adapter bytes for a tag and platform.
func binary(tag, platform string) []byte {
	return []byte("#!/bin/sh\n# epack-remote-vault " + tag + " " + platform + "\necho '{}'\n")
}

// publish adds a release whose assets for platforms are signed with id
// (nil: the correct identity for the tag).
func (f *fixture) publish(tag string, platforms []string, id *certID) {
	f.t.Helper()
	r := &fakeRelease{Tag: tag, Assets: map[string][]byte{}}
	for _, p := range platforms {
		name := AssetName("vault", p)
		data := binary(tag, p)
		who := githubID(testOwner, testRepo, tag)
		if id != nil {
			who = *id
		}
		r.Assets[name] = data
		r.Assets[BundleName(name)] = f.ss.SignAsset(f.t, name, data, who)
	}
	f.gh.Add(r)
}

func (f *fixture) remote(name string) *config.Remote {
	f.t.Helper()
	r, err := f.project.Config.ResolveRemote(name, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}
