package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/evidencerelay/epack/internal/audit"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
	"github.com/evidencerelay/epack/remote"
)

type syncFixture struct {
	root string
	gh   *sourceinstalltest.GitHub
	ss   *sourceinstalltest.Sigstore
}

// newSyncFixture makes a project with source remote "origin" (adapter
// "vault") and binary remote "ext", a fake GitHub serving v1.0.0 signed by a
// virtual Sigstore, and points `epack sync` at both.
func newSyncFixture(t *testing.T) *syncFixture {
	t.Helper()
	f := &syncFixture{root: t.TempDir(), gh: sourceinstalltest.NewGitHub(t, "acme", "epack-remote-vault"), ss: sourceinstalltest.NewSigstore(t)}
	f.writeConfig(t, "^1")
	f.publish(t, "v1.0.0", true)
	prev := syncInstallOptions
	syncInstallOptions = func(g *Globals) sourceinstall.Options {
		return sourceinstall.Options{
			GitHub: &sourceinstall.GitHub{BaseURL: f.gh.URL(), HTTP: f.gh.HTTPClient(),
				Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
			Verifier: sourceinstall.NewVerifier(f.ss.TrustedMaterial(), false),
			Stderr:   g.IO.ErrOut,
		}
	}
	t.Cleanup(func() { syncInstallOptions = prev })
	t.Chdir(f.root)
	return f
}

func (f *syncFixture) writeConfig(t *testing.T, constraint string) {
	t.Helper()
	yaml := "stream: acme/prod\nremotes:\n  origin:\n    source: acme/epack-remote-vault@" + constraint +
		"\n  ext:\n    binary: /usr/local/bin/epack-remote-ext\n"
	if err := os.WriteFile(filepath.Join(f.root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *syncFixture) publish(t *testing.T, tag string, signed bool) {
	t.Helper()
	name := sourceinstall.AssetName("vault", config.PlatformKey())
	data := []byte("#!/bin/sh\necho vault " + tag + "\n")
	r := &sourceinstalltest.Release{Tag: tag, Assets: map[string][]byte{name: data}}
	if signed {
		r.Assets[sourceinstall.BundleName(name)] = f.ss.SignAsset(t, name, data, sourceinstalltest.GitHubID("acme", "epack-remote-vault", tag))
	}
	f.gh.Add(r)
}

func (f *syncFixture) binPath(version string) string {
	return filepath.Join(f.root, ".epack", "remotes", "origin", version, runtime.GOOS+"-"+runtime.GOARCH, "epack-remote-vault")
}

func runSyncCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"sync"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

type syncJSON struct {
	Lockfile string      `json:"lockfile"`
	Platform string      `json:"platform"`
	Synced   []syncEntry `json:"synced"`
	OK       *bool       `json:"ok"`
	Error    *struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Hint     string `json:"hint"`
		ExitCode int    `json:"exit_code"`
	} `json:"error"`
}

func decodeSync(t *testing.T, out string) syncJSON {
	t.Helper()
	var v syncJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	return v
}

func TestSyncLocksAndInstalls(t *testing.T) {
	f := newSyncFixture(t)
	code, out, errOut := runSyncCLI(t, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	v := decodeSync(t, out)
	if len(v.Synced) != 1 {
		t.Fatalf("synced = %+v", v.Synced)
	}
	e := v.Synced[0]
	if e.Remote != "origin" || e.Adapter != "vault" || e.Version != "v1.0.0" || !e.Locked || !e.Installed || !e.Verified || e.Insecure ||
		e.Path != f.binPath("v1.0.0") || e.Signer != "https://github.com/acme/epack-remote-vault@refs/tags/v1.0.0" {
		t.Fatalf("entry = %+v", e)
	}
	lock, err := config.LoadLock(f.root)
	if err != nil {
		t.Fatal(err)
	}
	le := lock.Entry("origin")
	if le == nil || le.Version != "v1.0.0" || le.Platforms[config.PlatformKey()].Digest != e.Digest {
		t.Fatalf("lock entry = %+v", le)
	}
	if lock.Entry("ext") != nil {
		t.Error("sync pinned a binary remote")
	}

	// A second sync, frozen, changes nothing and downloads nothing.
	before, _ := f.gh.Requests()
	code, out, errOut = runSyncCLI(t, "--frozen", "--json")
	if code != 0 {
		t.Fatalf("frozen re-sync: exit %d: %s %s", code, out, errOut)
	}
	if v := decodeSync(t, out); len(v.Synced) != 1 || v.Synced[0].Installed || v.Synced[0].Locked || !v.Synced[0].Verified {
		t.Fatalf("re-sync = %+v", v.Synced)
	}
	if after, _ := f.gh.Requests(); len(after) != len(before) {
		t.Errorf("re-sync made %d requests", len(after)-len(before))
	}

	// Human output.
	code, out, _ = runSyncCLI(t, "--no-color", "origin")
	if code != 0 || !strings.Contains(out, "[OK] origin: already installed vault v1.0.0") {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

func TestSyncFrozenMissingLockfile(t *testing.T) {
	f := newSyncFixture(t)
	code, out, _ := runSyncCLI(t, "--frozen", "--json")
	v := decodeSync(t, out)
	if code != 10 || v.Error == nil || v.Error.Code != "lockfile_invalid" || !strings.Contains(v.Error.Message, "not found") || !strings.Contains(v.Error.Hint, "epack lock") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := os.Lstat(filepath.Join(f.root, config.LockFileName)); err == nil {
		t.Error("frozen sync wrote the lockfile")
	}
	if _, err := os.Lstat(f.binPath("v1.0.0")); err == nil {
		t.Error("frozen sync installed without a lockfile")
	}
}

func TestSyncFrozenStaleLockfile(t *testing.T) {
	f := newSyncFixture(t)
	if code, out, errOut := runSyncCLI(t); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	lockBefore, _ := os.ReadFile(filepath.Join(f.root, config.LockFileName))
	f.publish(t, "v2.0.0", true)
	f.writeConfig(t, "^2")
	code, out, _ := runSyncCLI(t, "--frozen", "--json")
	v := decodeSync(t, out)
	if code != 10 || v.Error == nil || !strings.Contains(v.Error.Message, "stale") || !strings.Contains(v.Error.Hint, "epack lock origin") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if lockAfter, _ := os.ReadFile(filepath.Join(f.root, config.LockFileName)); !bytes.Equal(lockBefore, lockAfter) {
		t.Error("frozen sync changed the lockfile")
	}
	// Without --frozen the stale entry is locked again and installed.
	code, out, errOut := runSyncCLI(t, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if v := decodeSync(t, out); v.Synced[0].Version != "v2.0.0" || !v.Synced[0].Locked || v.Synced[0].Path != f.binPath("v2.0.0") {
		t.Fatalf("synced = %+v", v.Synced)
	}
}

func TestSyncFrozenRefusesInsecure(t *testing.T) {
	newSyncFixture(t)
	code, out, _ := runSyncCLI(t, "--frozen", "--insecure-skip-verify", "--json")
	v := decodeSync(t, out)
	if code == 0 || v.Error == nil || v.Error.Code != "policy_violation" || !strings.Contains(v.Error.Message, "--frozen") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestSyncInsecureSkipVerify(t *testing.T) {
	f := newSyncFixture(t)
	f.gh.SetAsset("v1.0.0", sourceinstall.BundleName(sourceinstall.AssetName("vault", config.PlatformKey())), nil)

	// Without the flag an unsigned release is refused (exit 12).
	code, out, _ := runSyncCLI(t, "--json")
	if v := decodeSync(t, out); code != 12 || v.Error == nil || v.Error.Code != "signature_invalid" {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := os.Lstat(f.binPath("v1.0.0")); err == nil {
		t.Fatal("unsigned adapter installed")
	}

	code, out, errOut := runSyncCLI(t, "--insecure-skip-verify", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if v := decodeSync(t, out); v.Synced[0].Verified || !v.Synced[0].Insecure {
		t.Fatalf("synced = %+v", v.Synced)
	}
	if !strings.Contains(errOut, "WARNING") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(f.binPath("v1.0.0")), remote.InsecureInstallMarker)); err != nil {
		t.Errorf("no marker: %v", err)
	}
	audit, err := os.ReadFile(filepath.Join(f.root, audit.File))
	if err != nil || !strings.Contains(string(audit), `"event":"insecure_install"`) {
		t.Errorf("audit log: %v %s", err, audit)
	}
	// Such an adapter is refused by push/pull.
	lock, _ := config.LoadLock(f.root)
	cfg, _ := config.Load(f.root)
	r, _ := cfg.ResolveRemote("origin", "")
	_, err = remote.Open(context.Background(), remote.SessionOptions{ProjectRoot: f.root, Remote: r, Lock: lock})
	if err == nil || !strings.Contains(err.Error(), "without signature verification") {
		t.Errorf("session over an insecure install: %v", err)
	}
}

func TestSyncNonSourceRemote(t *testing.T) {
	newSyncFixture(t)
	code, out, _ := runSyncCLI(t, "ext", "--json")
	if v := decodeSync(t, out); code != 1 || v.Error == nil || !strings.Contains(v.Error.Message, "no source") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
