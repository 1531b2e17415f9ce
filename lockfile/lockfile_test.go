package lockfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
	"github.com/evidencerelay/epack/remote"
)

// fixture is a project with source remote "origin" (adapter "vault",
// released on a local GitHub and signed by a virtual Sigstore) and binary
// remotes whose adapters are real executables in the temp folder.
type fixture struct {
	root string
	bin  string
	gh   *sourceinstalltest.GitHub
	ss   *sourceinstalltest.Sigstore
}

func newFixture(t *testing.T, constraint string, binaries ...string) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), bin: t.TempDir(),
		gh: sourceinstalltest.NewGitHub(t, "acme", "epack-remote-vault"), ss: sourceinstalltest.NewSigstore(t)}
	yaml := "stream: acme/prod\nremotes:\n  origin:\n    source: acme/epack-remote-vault@" + constraint + "\n"
	for _, b := range binaries {
		f.writeAdapter(t, b, "v1")
		yaml += fmt.Sprintf("  %s:\n    binary: %s\n", b, f.adapterPath(b))
	}
	if err := os.WriteFile(filepath.Join(f.root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "v1.0.0")
	return f
}

func (f *fixture) adapterPath(name string) string {
	return filepath.Join(f.bin, "epack-remote-"+name)
}

func (f *fixture) writeAdapter(t *testing.T, name, version string) {
	t.Helper()
	if err := os.WriteFile(f.adapterPath(name), []byte("#!/bin/sh\necho "+name+" "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) publish(t *testing.T, tag string) {
	t.Helper()
	name := sourceinstall.AssetName("vault", config.PlatformKey())
	data := []byte("#!/bin/sh\necho vault " + tag + "\n")
	f.gh.Add(&sourceinstalltest.Release{Tag: tag, Assets: map[string][]byte{
		name:                           data,
		sourceinstall.BundleName(name): f.ss.SignAsset(t, name, data, sourceinstalltest.GitHubID("acme", "epack-remote-vault", tag)),
	}})
}

func (f *fixture) source() sourceinstall.Options {
	return sourceinstall.Options{
		GitHub: &sourceinstall.GitHub{BaseURL: f.gh.URL(), HTTP: f.gh.HTTPClient(),
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
		Verifier: sourceinstall.NewVerifier(f.ss.TrustedMaterial(), false),
	}
}

func (f *fixture) installed(version string) string {
	return filepath.Join(f.root, ".epack", "remotes", "origin", version, runtime.GOOS+"-"+runtime.GOARCH, "epack-remote-vault")
}

func (f *fixture) lock(t *testing.T) *config.LockFile {
	t.Helper()
	l, err := config.LoadLock(f.root)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Moved from the CLI's TestLockAnySourceRemote with its assertions: one
// source remote pinned in memory through its releases; a binary remote
// whose adapter is missing is refused.
func TestPinRemoteSource(t *testing.T) {
	f := newFixture(t, "^1")
	os.WriteFile(filepath.Join(f.root, "epack.yaml"), []byte("stream: acme/prod\nremotes:\n  origin:\n    source: acme/epack-remote-vault@^1\n  ext:\n    binary: /usr/local/bin/epack-remote-ext\n"), 0o644)
	project, err := config.LoadProject(f.root)
	if err != nil {
		t.Fatal(err)
	}
	lock := f.lock(t)
	e, err := pinRemote(context.Background(), project, lock, "origin", time.Now(), f.source())
	if err != nil {
		t.Fatal(err)
	}
	le := lock.Entry("origin")
	if le == nil || le.Version != "v1.0.0" || le.Signer == nil || e.Digest == "" || e.Digest != le.Platforms[config.PlatformKey()].Digest ||
		e.Adapter != "vault" || e.Path != f.installed("v1.0.0") || e.Kind != "" || e.Previous != "" {
		t.Fatalf("entry %+v, lock %+v", e, le)
	}
	// A binary remote still goes through pinBinary (here: not found).
	if _, err := pinRemote(context.Background(), project, lock, "ext", time.Now(), f.source()); err == nil {
		t.Error("missing binary adapter pinned")
	}
}

func TestLock(t *testing.T) {
	f := newFixture(t, "^1", "alpha", "beta")
	sub := filepath.Join(f.root, "sub")
	os.Mkdir(sub, 0o755)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	opts := LockOptions{ProjectDir: sub, Source: f.source(), Now: func() time.Time { return now }}

	res, err := Lock(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.LockfilePath != filepath.Join(f.root, config.LockFileName) || res.Platform != config.PlatformKey() {
		t.Fatalf("result %+v", res)
	}
	var got []string
	for _, p := range res.Locked {
		got = append(got, p.Remote)
	}
	if strings.Join(got, ",") != "alpha,beta,origin" {
		t.Fatalf("locked %v, want every remote sorted", got)
	}
	alpha := res.Locked[0]
	if alpha.Kind != config.KindExternal || alpha.Origin != remote.OriginBinary || alpha.Path != f.adapterPath("alpha") ||
		alpha.Previous != "" || alpha.Changed || !strings.HasPrefix(alpha.Digest, "sha256:") {
		t.Fatalf("alpha %+v", alpha)
	}
	lock := f.lock(t)
	if e := lock.Entry("alpha"); e == nil || e.LockedAt != "2026-03-04T05:06:07Z" || e.Platforms[config.PlatformKey()].Digest != alpha.Digest {
		t.Fatalf("alpha lock entry %+v", e)
	}
	if e := lock.Entry("origin"); e == nil || e.Version != "v1.0.0" || e.Platforms[config.PlatformKey()].Digest != res.Locked[2].Digest {
		t.Fatalf("origin lock entry %+v", e)
	}

	// Pins of other platforms survive; a changed binary is reported.
	lock.Pin("alpha", config.KindExternal, "plan9/arm", "sha256:"+strings.Repeat("ab", 32), now)
	if err := lock.Save(f.root); err != nil {
		t.Fatal(err)
	}
	f.writeAdapter(t, "alpha", "v2")
	opts.Remotes = []string{"alpha", "beta", "alpha"}
	res, err = Lock(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Locked) != 2 {
		t.Fatalf("locked %+v, want alpha and beta once each", res.Locked)
	}
	if a := res.Locked[0]; !a.Changed || a.Previous != alpha.Digest || a.Digest == alpha.Digest {
		t.Errorf("changed alpha %+v", a)
	}
	if b := res.Locked[1]; b.Changed || b.Previous != b.Digest {
		t.Errorf("unchanged beta %+v", b)
	}
	if e := f.lock(t).Entry("alpha"); e.Platforms["plan9/arm"].Digest == "" {
		t.Error("the other platform's pin was dropped")
	}
}

// Nothing is written unless every selected remote can be pinned; the error
// of each failed remote is returned.
func TestLockAllOrNothing(t *testing.T) {
	f := newFixture(t, "^1", "alpha", "beta", "gamma")
	os.Remove(f.adapterPath("beta"))
	os.Remove(f.adapterPath("gamma"))
	_, err := Lock(context.Background(), LockOptions{ProjectDir: f.root, Remotes: []string{"alpha", "beta", "gamma"}, Source: f.source()})
	if !errcode.Has(err, errcode.AdapterNotFound) || !strings.Contains(err.Error(), `"beta"`) || !strings.Contains(err.Error(), `"gamma"`) {
		t.Fatalf("err = %v, want both missing adapters named", err)
	}
	if _, err := os.Lstat(filepath.Join(f.root, config.LockFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lockfile written after a failure: %v", err)
	}
}

func TestLockErrors(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "epack.yaml"), []byte("stream: acme/prod\ntools:\n  scan: {}\n"), 0o644)
	for _, tc := range []struct {
		name string
		dir  string
		code errcode.Code
		text string
	}{
		{"no project folder given", "", errcode.InvalidInput, "no project folder"},
		{"no epack.yaml", t.TempDir(), errcode.ProjectNotFound, "epack.yaml"},
		{"no remotes", empty, errcode.ConfigInvalid, "no remotes configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lock(context.Background(), LockOptions{ProjectDir: tc.dir})
			if !errcode.Has(err, tc.code) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.code, tc.text)
			}
		})
	}
}

// Lock runs at once in one process (and so across processes: each call
// opens the folder itself) keep every pin.
func TestLockConcurrentKeepsEveryPin(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f"}
	f := newFixture(t, "^1", names...)
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Lock(context.Background(), LockOptions{ProjectDir: f.root, Remotes: []string{n}})
		}()
	}
	wg.Wait()
	lock := f.lock(t)
	for i, n := range names {
		if errs[i] != nil {
			t.Fatalf("lock %s: %v", n, errs[i])
		}
		if lock.Entry(n) == nil {
			t.Errorf("%q not pinned (%d of %d kept)", n, len(lock.Remotes), len(names))
		}
	}
}

func TestSync(t *testing.T) {
	f := newFixture(t, "^1", "ext")
	var stderr bytes.Buffer
	var events []string
	opts := SyncOptions{ProjectDir: f.root, Source: f.source(), Stderr: &stderr,
		OnLocking:    func(r, src string) { events = append(events, "locking "+r+" "+src) },
		OnInstalling: func(r string) { events = append(events, "installing "+r) },
		OnInstalled: func(r InstallReport) {
			events = append(events, fmt.Sprintf("installed %s %d %v %v", r.Remote, r.Total, r.Synced != nil, r.Err))
		},
	}
	res, err := Sync(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "locking origin acme/epack-remote-vault@^1|installing origin|installed origin 1 true <nil>"
	if strings.Join(events, "|") != want {
		t.Errorf("events %q, want %q", events, want)
	}
	if len(res.Synced) != 1 {
		t.Fatalf("synced %+v", res.Synced)
	}
	s := res.Synced[0]
	if s.Remote != "origin" || s.Adapter != "vault" || s.Version != "v1.0.0" || !s.Locked || !s.Installed || !s.Verified || s.Insecure ||
		s.Path != f.installed("v1.0.0") || s.Signer != "https://github.com/acme/epack-remote-vault@refs/tags/v1.0.0" {
		t.Fatalf("synced %+v", s)
	}
	if data, err := os.ReadFile(s.Path); err != nil || !strings.Contains(string(data), "vault v1.0.0") {
		t.Fatalf("installed file: %v %q", err, data)
	}
	if f.lock(t).Entry("ext") != nil {
		t.Error("sync pinned a binary remote")
	}

	// Frozen and already installed: nothing locked, nothing downloaded.
	before, _ := f.gh.Requests()
	opts.Frozen, events = true, nil
	res, err = Sync(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Synced[0]; s.Locked || s.Installed || !s.Verified {
		t.Fatalf("re-sync %+v", s)
	}
	if after, _ := f.gh.Requests(); len(after) != len(before) {
		t.Errorf("re-sync made %d requests", len(after)-len(before))
	}
}

func TestSyncErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   SyncOptions
		code   errcode.Code
		text   string
		noLock bool
	}{
		{name: "frozen and insecure", opts: SyncOptions{Frozen: true, InsecureSkipVerify: true}, code: errcode.PolicyViolation, text: "--frozen", noLock: true},
		{name: "frozen without lockfile", opts: SyncOptions{Frozen: true}, code: errcode.LockfileInvalid, text: "not found (frozen)", noLock: true},
		{name: "binary remote named", opts: SyncOptions{Remotes: []string{"ext"}}, code: errcode.ConfigInvalid, text: "no source", noLock: true},
		{name: "unknown remote", opts: SyncOptions{Remotes: []string{"nope"}}, code: errcode.RemoteNotFound, text: "nope", noLock: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "^1", "ext")
			tc.opts.ProjectDir, tc.opts.Source = f.root, f.source()
			_, err := Sync(context.Background(), tc.opts)
			if !errcode.Has(err, tc.code) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.code, tc.text)
			}
			if _, err := os.Lstat(filepath.Join(f.root, config.LockFileName)); tc.noLock && err == nil {
				t.Error("lockfile written")
			}
		})
	}
}

// A project without source remotes syncs nothing and says where it looked.
func TestSyncNoSourceRemotes(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte("stream: acme/prod\nremotes:\n  ext:\n    binary: /bin/true\n"), 0o644)
	res, err := Sync(context.Background(), SyncOptions{ProjectDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if res.Synced == nil || len(res.Synced) != 0 || res.ConfigPath != filepath.Join(root, "epack.yaml") {
		t.Fatalf("result %+v", res)
	}
}
