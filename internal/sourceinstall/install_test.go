package sourceinstall

import (
	"bufio"
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
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/remote"
)

var here = config.PlatformKey()

// wantCode is the shared assertion of internal/testkit: err carries code
// as its outermost errcode, and its text mentions each given substring (or its hint).
var wantCode = testkit.WantCodeHint

func TestLockAndInstallGood(t *testing.T) {
	f := newFixture(t, "^1.2", "platforms: [linux/amd64, darwin/arm64, windows/amd64, "+here+"]\n")
	f.publish("v1.1.0", []string{here}, nil)
	f.publish("v1.2.0", []string{here, "linux/amd64", "darwin/arm64", "windows/amd64"}, nil)
	f.publish("v1.3.0-rc.1", []string{here}, nil)                   // prerelease: skipped
	f.gh.Add(&fakeRelease{Tag: "v1.4.0", Draft: true, Assets: nil}) // draft: skipped
	f.publish("v2.0.0", []string{here}, nil)                        // outside ^1.2
	f.gh.Add(&fakeRelease{Tag: "nightly", Assets: map[string][]byte{}})

	ctx := context.Background()
	now := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	o := f.opts()
	o.Now = func() time.Time { return now }
	if err := LockSource(ctx, f.project, f.lock, "origin", nil, o); err != nil {
		t.Fatal(err)
	}
	e := f.lock.Entry("origin")
	if e == nil || e.Version != "v1.2.0" || e.Source != "github.com/acme/epack-remote-vault" || e.Kind != "" {
		t.Fatalf("entry = %+v", e)
	}
	if e.Commit != f.gh.Commit("v1.2.0") {
		t.Errorf("commit = %q", e.Commit)
	}
	if e.Signer == nil || e.Signer.Issuer != GitHubActionsIssuer || e.Signer.SourceRepositoryURI != "https://github.com/acme/epack-remote-vault" ||
		e.Signer.SourceRepositoryRef != "refs/tags/v1.2.0" || !strings.Contains(e.Signer.Subject, "release.yml@refs/tags/v1.2.0") {
		t.Errorf("signer = %+v", e.Signer)
	}
	if e.Verification == nil || e.Verification.Status != StatusVerified || e.Verification.VerifiedAt != "2026-11-30T01:02:03Z" || e.LockedAt != "2026-11-30T01:02:03Z" {
		t.Errorf("verification = %+v locked_at %q", e.Verification, e.LockedAt)
	}
	if e.ResolvedFrom == nil || e.ResolvedFrom.Descriptor != "acme/epack-remote-vault@^1.2" {
		t.Errorf("resolved_from = %+v", e.ResolvedFrom)
	}
	for _, p := range []string{here, "linux/amd64", "darwin/arm64", "windows/amd64"} {
		pin := e.Platforms[p]
		want := AssetName("vault", p)
		if pin.Asset != want || pin.Digest != sha(binary("v1.2.0", p)) || !strings.HasSuffix(pin.URL, "/"+want) {
			t.Errorf("platform %s = %+v", p, pin)
		}
	}
	if !strings.HasSuffix(e.Platforms["windows/amd64"].Asset, ".exe") {
		t.Errorf("windows asset lacks .exe: %q", e.Platforms["windows/amd64"].Asset)
	}

	// The entry survives a save and load with the lockfile checks.
	if err := f.lock.Save(f.root); err != nil {
		t.Fatal(err)
	}
	lock, err := config.LoadLock(f.root)
	if err != nil {
		t.Fatal(err)
	}

	// Managed before install.
	r := f.remote("origin")
	res, err := remote.Resolve(f.root, r, lock)
	if err != nil || res.Status != remote.StatusManaged {
		t.Fatalf("before install: %+v %v", res, err)
	}

	inst, err := InstallResult(ctx, f.root, r, lock, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	// Named after the adapter ("vault"), not the remote ("origin"): W14.
	wantPath := filepath.Join(f.root, ".epack", "remotes", "origin", "v1.2.0", runtime.GOOS+"-"+runtime.GOARCH, "epack-remote-vault")
	if inst.Path != wantPath || !inst.Changed || !inst.Verified || inst.Signer == nil {
		t.Fatalf("install = %+v, want path %s", inst, wantPath)
	}
	data, err := os.ReadFile(wantPath)
	if err != nil || !bytes.Equal(data, binary("v1.2.0", here)) {
		t.Fatalf("installed bytes: %v", err)
	}
	st, _ := os.Stat(wantPath)
	if st.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v", st.Mode())
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(wantPath), remote.InsecureInstallMarker)); err == nil {
		t.Error("insecure marker written for a verified install")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(wantPath), ".*.tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temp files left: %v", leftovers)
	}

	// The resolver finds exactly this file, verified by digest.
	res, err = remote.Resolve(f.root, r, lock)
	if err != nil || res.Status != remote.StatusVerified || res.Path != wantPath || res.PinnedDigest != sha(data) {
		t.Fatalf("after install: %+v %v", res, err)
	}

	// Installing again downloads nothing.
	before, _ := f.gh.Requests()
	inst, err = InstallResult(ctx, f.root, r, lock, f.opts())
	if err != nil || inst.Changed || !inst.Verified {
		t.Fatalf("second install: %+v %v", inst, err)
	}
	if after, _ := f.gh.Requests(); len(after) != len(before) {
		t.Errorf("second install made %d requests", len(after)-len(before))
	}
}

func TestLockPaginatesAndPicksHighest(t *testing.T) {
	f := newFixture(t, "~1.2.3", "")
	for _, tag := range []string{"v1.2.2", "v1.2.3", "v1.2.10", "v1.2.9", "v1.3.0", "1.2.11-beta.1"} {
		f.publish(tag, []string{here}, nil)
	}
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	if v := f.lock.Entry("origin").Version; v != "v1.2.10" {
		t.Fatalf("version = %s, want v1.2.10", v)
	}
	pages := 0
	paths, _ := f.gh.Requests()
	for _, p := range paths {
		if strings.HasSuffix(p, "/releases") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("listed %d pages, want 3", pages)
	}
}

func TestLockExactPrerelease(t *testing.T) {
	f := newFixture(t, "1.3.0-rc.1", "")
	f.publish("v1.2.0", []string{here}, nil)
	f.publish("v1.3.0-rc.1", []string{here}, nil)
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	if v := f.lock.Entry("origin").Version; v != "v1.3.0-rc.1" {
		t.Fatalf("version = %s", v)
	}
}

func TestLockNoReleaseSatisfies(t *testing.T) {
	f := newFixture(t, "^3.0", "")
	f.publish("v1.0.0", []string{here}, nil)
	f.publish("v2.5.0", []string{here}, nil)
	err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts())
	wantCode(t, err, errcode.RemoteNotFound, `satisfies "^3.0"`, "v1.0.0, v2.5.0")
	if f.lock.Entry("origin") != nil {
		t.Error("lock changed on failure")
	}
}

func TestLockAssetMissingForPlatform(t *testing.T) {
	f := newFixture(t, "latest", "platforms: ["+here+", plan9/arm]\n")
	f.publish("v1.0.0", []string{here}, nil)
	err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts())
	wantCode(t, err, errcode.AdapterNotFound, "epack-remote-vault_plan9_arm", "plan9/arm")
	if f.lock.Entry("origin") != nil {
		t.Error("lock changed on failure")
	}
}

func TestLockBundleChecks(t *testing.T) {
	other := githubID("mallory", "epack-remote-vault", "v1.0.0")
	otherTag := githubID(testOwner, testRepo, "v0.9.0")
	otherIssuer := githubID(testOwner, testRepo, "v1.0.0")
	otherIssuer.Issuer = "https://accounts.google.com"
	for _, tc := range []struct {
		name  string
		id    *certID
		tweak func(f *fixture)
		code  errcode.Code
		parts []string
	}{
		{name: "another repository", id: &other, code: errcode.IdentityMismatch, parts: []string{"https://github.com/mallory/epack-remote-vault"}},
		{name: "another tag", id: &otherTag, code: errcode.IdentityMismatch, parts: []string{"refs/tags/v1.0.0"}},
		{name: "another issuer", id: &otherIssuer, code: errcode.IdentityMismatch},
		{name: "missing bundle", tweak: func(f *fixture) {
			f.gh.SetAsset("v1.0.0", BundleName(AssetName("vault", here)), nil)
		}, code: errcode.SignatureInvalid, parts: []string{"no Sigstore bundle", ".sigstore.json"}},
		{name: "wrong digest", tweak: func(f *fixture) {
			// The asset was replaced; the bundle still attests the old bytes.
			f.gh.SetAsset("v1.0.0", AssetName("vault", here), []byte("tampered"))
		}, code: errcode.SignatureInvalid},
		{name: "garbage bundle", tweak: func(f *fixture) {
			f.gh.SetAsset("v1.0.0", BundleName(AssetName("vault", here)), []byte(`{"mediaType":"nope"}`))
		}, code: errcode.SignatureInvalid},
		{name: "bundle from another sigstore", tweak: func(f *fixture) {
			name := AssetName("vault", here)
			f.gh.SetAsset("v1.0.0", BundleName(name), newTestSigstore(t).SignAsset(t, name, binary("v1.0.0", here), githubID(testOwner, testRepo, "v1.0.0")))
		}, code: errcode.SignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "^1", "")
			f.publish("v1.0.0", []string{here}, tc.id)
			if tc.tweak != nil {
				tc.tweak(f)
			}
			err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts())
			wantCode(t, err, tc.code, tc.parts...)
			t.Logf("%v", err)
			if f.lock.Entry("origin") != nil {
				t.Error("lock changed on failure")
			}
		})
	}
}

// lockedFixture publishes v1.0.0 and locks it.
func lockedFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, "^1", "")
	f.publish("v1.0.0", []string{here}, nil)
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	return f
}

func installDir(f *fixture, version string) string {
	return filepath.Join(f.root, InstallDirRel("origin", version))
}

func assertNotInstalled(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(installDir(f, "v1.0.0"), "epack-remote-vault")); err == nil {
		t.Error("binary installed despite the error")
	}
	left, _ := filepath.Glob(filepath.Join(installDir(f, "v1.0.0"), ".*"))
	if len(left) > 0 {
		t.Errorf("files left in the install folder: %v", left)
	}
}

func TestInstallPinnedDigestGoneFromRelease(t *testing.T) {
	f := lockedFixture(t)
	// The maintainers re-uploaded the asset (validly signed) after it was locked.
	name := AssetName("vault", here)
	data := []byte("rebuilt binary")
	f.gh.SetAsset("v1.0.0", name, data)
	f.gh.SetAsset("v1.0.0", BundleName(name), f.ss.SignAsset(t, name, data, githubID(testOwner, testRepo, "v1.0.0")))
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.DigestMismatch, "no longer has the pinned binary", f.lock.Entry("origin").Platforms[here].Digest, "epack lock origin")
	assertNotInstalled(t, f)
}

func TestInstallWrongPinnedDigest(t *testing.T) {
	f := lockedFixture(t)
	p := f.lock.Remotes["origin"].Platforms[here]
	p.Digest = sha([]byte("something else"))
	f.lock.Remotes["origin"].Platforms[here] = p
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.DigestMismatch)
	assertNotInstalled(t, f)
}

func TestInstallBundleChecks(t *testing.T) {
	name := AssetName("vault", here)
	for _, tc := range []struct {
		name string
		id   certID
		code errcode.Code
	}{
		{"another repository", githubID("mallory", testRepo, "v1.0.0"), errcode.IdentityMismatch},
		{"another tag", githubID(testOwner, testRepo, "v1.0.1"), errcode.IdentityMismatch},
		{"another issuer", certID{Issuer: "https://gitlab.com", SAN: "https://gitlab.com/acme/x", RepoURI: "https://github.com/acme/epack-remote-vault", Ref: "refs/tags/v1.0.0"}, errcode.IdentityMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := lockedFixture(t)
			f.gh.SetAsset("v1.0.0", BundleName(name), f.ss.SignAsset(t, name, binary("v1.0.0", here), tc.id))
			_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
			wantCode(t, err, tc.code)
			assertNotInstalled(t, f)
		})
	}
	t.Run("missing bundle", func(t *testing.T) {
		f := lockedFixture(t)
		f.gh.SetAsset("v1.0.0", BundleName(name), nil)
		_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
		wantCode(t, err, errcode.SignatureInvalid, "no Sigstore bundle")
		assertNotInstalled(t, f)
	})
	t.Run("re-signed by another workflow", func(t *testing.T) {
		f := lockedFixture(t)
		id := githubID(testOwner, testRepo, "v1.0.0")
		id.SAN = "https://github.com/acme/epack-remote-vault/.github/workflows/other.yml@refs/tags/v1.0.0"
		f.gh.SetAsset("v1.0.0", BundleName(name), f.ss.SignAsset(t, name, binary("v1.0.0", here), id))
		_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
		wantCode(t, err, errcode.IdentityMismatch, "subject")
		assertNotInstalled(t, f)
	})
}

func TestInstallAssetMissingForPlatform(t *testing.T) {
	f := lockedFixture(t)
	f.gh.SetAsset("v1.0.0", AssetName("vault", here), nil)
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.AdapterNotFound, AssetName("vault", here))

	// A lockfile without a pin for this platform.
	f = lockedFixture(t)
	delete(f.lock.Remotes["origin"].Platforms, here)
	_, err = Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.LockfileInvalid, "no digest for this platform", "platforms:")
}

func TestInstallReleaseGone(t *testing.T) {
	f := lockedFixture(t)
	f.gh.SetDraft("v1.0.0", true) // hidden
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.AdapterNotFound, "no longer exists")
}

func TestRateLimit(t *testing.T) {
	for _, kind := range []string{"remaining", "retry-after"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, "^1", "")
			f.publish("v1.0.0", []string{here}, nil)
			f.gh.RateLimit(2, kind)
			var waits []time.Duration
			o := f.opts()
			o.GitHub.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, o); err != nil {
				t.Fatal(err)
			}
			if len(waits) != 2 || waits[0] <= 0 || waits[0] > 3*time.Second || waits[1] <= 0 {
				t.Errorf("waits = %v", waits)
			}
		})
	}
	t.Run("gives up", func(t *testing.T) {
		f := newFixture(t, "^1", "")
		f.publish("v1.0.0", []string{here}, nil)
		f.gh.RateLimit(100, "remaining")
		var waits int
		o := f.opts()
		o.GitHub.Sleep = func(_ context.Context, d time.Duration) error { waits++; return nil }
		err := LockSource(context.Background(), f.project, f.lock, "origin", nil, o)
		wantCode(t, err, errcode.NetworkError, "rate limit exceeded", "GITHUB_TOKEN", "after 4 attempt(s)")
		if waits != 3 {
			t.Errorf("waited %d times, want 3", waits)
		}
	})
	t.Run("reset too far away", func(t *testing.T) {
		f := newFixture(t, "^1", "")
		f.publish("v1.0.0", []string{here}, nil)
		f.gh.RateLimit(100, "remaining")
		o := f.opts()
		o.GitHub.MaxWait = time.Second // the fake resets in ~2 s
		o.GitHub.Token = "tok"
		err := LockSource(context.Background(), f.project, f.lock, "origin", nil, o)
		wantCode(t, err, errcode.NetworkError, "rate limit exceeded", "longer than allowed")
		if paths, _ := f.gh.Requests(); len(paths) != 1 {
			t.Errorf("%d requests, want 1", len(paths))
		}
	})
}

func TestTokenOnlyToAPIHost(t *testing.T) {
	f := newFixture(t, "^1", "")
	f.publish("v1.0.0", []string{here}, nil)
	o := f.opts()
	o.GitHub.Token = "secret-token"
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, o); err != nil {
		t.Fatal(err)
	}
	paths, auth := f.gh.Requests()
	for i, a := range auth {
		if a != "Bearer secret-token" {
			t.Errorf("request %s: Authorization %q", paths[i], a)
		}
	}
	// An asset whose API URL points at another host is fetched from its
	// public URL, never with the token.
	gh := &GitHub{BaseURL: "https://api.example.test", Token: "x"}
	u, err := gh.assetURL(&Asset{Name: "a", URL: "https://evil.test/a", BrowserDownloadURL: "https://dl.example.test/a"})
	if err != nil || u.Host != "dl.example.test" {
		t.Fatalf("assetURL = %v %v", u, err)
	}
}

func TestHTTPSOnly(t *testing.T) {
	gh := &GitHub{BaseURL: "http://127.0.0.1:1"}
	_, err := gh.ListReleases(context.Background(), "a", "b")
	wantCode(t, err, errcode.URLNotAllowed, "https")
	_, err = (&GitHub{BaseURL: "https://x.test"}).assetURL(&Asset{Name: "a", BrowserDownloadURL: "http://x.test/a"})
	wantCode(t, err, errcode.URLNotAllowed)
}

func TestFrozenRefusesInsecure(t *testing.T) {
	f := lockedFixture(t)
	o := f.opts()
	o.Frozen, o.InsecureSkipVerify = true, true
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, o)
	wantCode(t, err, errcode.PolicyViolation, "--insecure-skip-verify", "--frozen")
	assertNotInstalled(t, f)
	err = LockSource(context.Background(), f.project, f.lock, "origin", nil, o)
	wantCode(t, err, errcode.LockfileInvalid, "frozen")
}

func TestInsecureInstallMarkerAndAudit(t *testing.T) {
	f := lockedFixture(t)
	name := AssetName("vault", here)
	f.gh.SetAsset("v1.0.0", BundleName(name), nil)
	o := f.opts()
	o.InsecureSkipVerify = true
	stderr := &strings.Builder{}
	o.Stderr = stderr
	inst, err := InstallResult(context.Background(), f.root, f.remote("origin"), f.lock, o)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Verified || !inst.Changed {
		t.Errorf("install = %+v", inst)
	}
	if !strings.Contains(stderr.String(), "WARNING") {
		t.Errorf("no warning: %q", stderr)
	}
	if _, err := os.Lstat(filepath.Join(installDir(f, "v1.0.0"), remote.InsecureInstallMarker)); err != nil {
		t.Fatalf("no marker: %v", err)
	}
	audit, err := os.Open(filepath.Join(f.root, audit.File))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	found := false
	sc := bufio.NewScanner(audit)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev["event"] == "insecure_install" && ev["remote"] == "origin" && ev["adapter"] == "vault" && ev["version"] == "v1.0.0" {
			found = true
		}
	}
	if !found {
		t.Error("no insecure_install audit line")
	}
	// The digest was still checked.
	p := f.lock.Remotes["origin"].Platforms[here]
	p.Digest = sha([]byte("x"))
	f.lock.Remotes["origin"].Platforms[here] = p
	_, err = Install(context.Background(), f.root, f.remote("origin"), f.lock, o)
	wantCode(t, err, errcode.DigestMismatch)
}

func TestSecureSyncReplacesInsecureInstall(t *testing.T) {
	f := lockedFixture(t)
	name := AssetName("vault", here)
	bundle := f.gh.Release("v1.0.0").Assets[BundleName(name)]
	f.gh.SetAsset("v1.0.0", BundleName(name), nil)
	o := f.opts()
	o.InsecureSkipVerify = true
	if _, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, o); err != nil {
		t.Fatal(err)
	}
	f.gh.SetAsset("v1.0.0", BundleName(name), bundle)
	inst, err := InstallResult(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	if err != nil || !inst.Verified || !inst.Changed {
		t.Fatalf("secure reinstall: %+v %v", inst, err)
	}
	if _, err := os.Lstat(filepath.Join(installDir(f, "v1.0.0"), remote.InsecureInstallMarker)); err == nil {
		t.Error("marker left after a verified install")
	}
}

func TestInstallRefusesSymlinkedFolder(t *testing.T) {
	f := lockedFixture(t)
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Join(f.root, ".epack"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(f.root, ".epack", "remotes")); err != nil {
		t.Fatal(err)
	}
	_, err := Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.SymlinkNotAllowed)
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("wrote through the symlink: %v", ents)
	}
}

func TestCheckLockedStale(t *testing.T) {
	f := lockedFixture(t)
	r := f.remote("origin")
	if _, err := CheckLocked(r, f.lock); err != nil {
		t.Fatal(err)
	}
	moved := *r
	moved.Source = "other/epack-remote-vault@^1"
	_, err := CheckLocked(&moved, f.lock)
	wantCode(t, err, errcode.LockfileInvalid, "stale", "github.com/other/epack-remote-vault", "epack lock origin")
	_, err = Install(context.Background(), f.root, &moved, f.lock, f.opts())
	wantCode(t, err, errcode.LockfileInvalid, "stale")

	bumped := *r
	bumped.Source = testOwner + "/" + testRepo + "@^2"
	_, err = CheckLocked(&bumped, f.lock)
	wantCode(t, err, errcode.LockfileInvalid, "does not satisfy")

	_, err = CheckLocked(r, &config.LockFile{})
	wantCode(t, err, errcode.LockfileInvalid, "not pinned")
}

func TestInstallerForSession(t *testing.T) {
	f := lockedFixture(t)
	r := f.remote("origin")
	res, err := remote.Resolve(f.root, r, f.lock)
	if err != nil || res.Status != remote.StatusManaged {
		t.Fatalf("%+v %v", res, err)
	}
	install := Installer(f.root, f.lock, f.opts())
	if err := install(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	res, err = remote.Resolve(f.root, r, f.lock)
	if err != nil || res.Status != remote.StatusVerified || filepath.Base(res.Path) != "epack-remote-vault" {
		t.Fatalf("%+v %v", res, err)
	}
	// The installer never skips verification, even when asked to.
	f2 := lockedFixture(t)
	f2.gh.SetAsset("v1.0.0", BundleName(AssetName("vault", here)), nil)
	o := f2.opts()
	o.InsecureSkipVerify = true
	res2, _ := remote.Resolve(f2.root, f2.remote("origin"), f2.lock)
	err = Installer(f2.root, f2.lock, o)(context.Background(), res2)
	wantCode(t, err, errcode.SignatureInvalid)
}

func TestLockKeepsOtherPlatformsOfSameVersion(t *testing.T) {
	f := newFixture(t, "^1", "")
	f.publish("v1.0.0", []string{here, "linux/riscv64"}, nil)
	ctx := context.Background()
	if err := LockSource(ctx, f.project, f.lock, "origin", []string{"linux/riscv64"}, f.opts()); err != nil {
		t.Fatal(err)
	}
	if err := LockSource(ctx, f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	e := f.lock.Entry("origin")
	if _, ok := e.Platforms["linux/riscv64"]; !ok {
		t.Error("other platform of the same version dropped")
	}
	if _, ok := e.Platforms[here]; !ok {
		t.Error("current platform not pinned")
	}
	// A new version drops pins of the old one.
	f.publish("v1.1.0", []string{here}, nil)
	if err := LockSource(ctx, f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	e = f.lock.Entry("origin")
	if e.Version != "v1.1.0" || len(e.Platforms) != 1 {
		t.Errorf("entry after upgrade = %+v", e)
	}
}

func TestGitHubReportedDigest(t *testing.T) {
	f := newFixture(t, "^1", "")
	f.publish("v1.0.0", []string{here}, nil)
	name := AssetName("vault", here)
	f.gh.Release("v1.0.0").Digests = map[string]string{name: sha(binary("v1.0.0", here))}
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatalf("matching GitHub digest: %v", err)
	}
	f.gh.Release("v1.0.0").Digests = map[string]string{name: sha([]byte("other"))}
	err := LockSource(context.Background(), f.project, &config.LockFile{}, "origin", nil, f.opts())
	wantCode(t, err, errcode.DigestMismatch, "GitHub reports")
	_, err = Install(context.Background(), f.root, f.remote("origin"), f.lock, f.opts())
	wantCode(t, err, errcode.DigestMismatch, "GitHub reports")
	assertNotInstalled(t, f)
}

func TestInsecureLockRecordsSkipped(t *testing.T) {
	f := newFixture(t, "^1", "")
	f.publish("v1.0.0", []string{here}, nil)
	f.gh.SetAsset("v1.0.0", BundleName(AssetName("vault", here)), nil)
	o := f.opts()
	o.InsecureSkipVerify = true
	if err := LockSource(context.Background(), f.project, f.lock, "origin", nil, o); err != nil {
		t.Fatal(err)
	}
	e := f.lock.Entry("origin")
	if e.Verification == nil || e.Verification.Status != StatusSkipped || e.Signer != nil {
		t.Errorf("entry = %+v", e)
	}
	if b, err := os.ReadFile(filepath.Join(f.root, audit.File)); err != nil || !strings.Contains(string(b), `"event":"insecure_lock"`) {
		t.Errorf("audit: %v %s", err, b)
	}
}

// The production verifier (public-good root, SCTs required) does not
// accept a bundle from the virtual Sigstore.
func TestPublicGoodRootRefusesTestCA(t *testing.T) {
	v, err := loadPublicGood(filepath.Join("testdata", "trusted-root-public-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !v.RequireSCT || len(v.Trusted.FulcioCertificateAuthorities()) == 0 || len(v.Trusted.RekorLogs()) == 0 {
		t.Fatalf("verifier = %+v", v)
	}
	ss := newTestSigstore(t)
	data := []byte("adapter")
	b := ss.SignAsset(t, "a", data, githubID(testOwner, testRepo, "v1.0.0"))
	_, err = v.Verify(b, sha(data), IdentityFor(Source{Owner: testOwner, Repo: testRepo}, "v1.0.0"))
	wantCode(t, err, errcode.SignatureInvalid)

	_, err = loadPublicGood(filepath.Join(t.TempDir(), "missing.json"))
	wantCode(t, err, errcode.NetworkError, EnvTrustedRoot)
}

// Releases signed with `cosign sign-blob --bundle` (a message signature
// rather than an in-toto attestation) verify the same way.
func TestMessageSignatureBundles(t *testing.T) {
	f := newFixture(t, "^1", "")
	name := AssetName("vault", here)
	data := binary("v1.0.0", here)
	f.gh.Add(&fakeRelease{Tag: "v1.0.0", Assets: map[string][]byte{
		name:             data,
		BundleName(name): f.ss.SignBlob(t, data, githubID(testOwner, testRepo, "v1.0.0")),
	}})
	ctx := context.Background()
	if err := LockSource(ctx, f.project, f.lock, "origin", nil, f.opts()); err != nil {
		t.Fatal(err)
	}
	inst, err := InstallResult(ctx, f.root, f.remote("origin"), f.lock, f.opts())
	if err != nil || !inst.Verified || inst.Signer.SourceRepositoryRef != "refs/tags/v1.0.0" {
		t.Fatalf("%+v %v", inst, err)
	}

	for _, tc := range []struct {
		name   string
		bundle []byte
		code   errcode.Code
	}{
		{"another repository", f.ss.SignBlob(t, data, githubID("mallory", testRepo, "v1.0.0")), errcode.IdentityMismatch},
		{"another tag", f.ss.SignBlob(t, data, githubID(testOwner, testRepo, "v0.1.0")), errcode.IdentityMismatch},
		{"other bytes", f.ss.SignBlob(t, []byte("other"), githubID(testOwner, testRepo, "v1.0.0")), errcode.SignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.gh.SetAsset("v1.0.0", BundleName(name), tc.bundle)
			err := LockSource(ctx, f.project, &config.LockFile{}, "origin", nil, f.opts())
			wantCode(t, err, tc.code)
		})
	}
}

// The certificate's source commit must be the commit the tag points to.
func TestSignedCommitMustMatchTag(t *testing.T) {
	f := newFixture(t, "^1", "")
	id := githubID(testOwner, testRepo, "v1.0.0")
	id.Commit = "0123456789abcdef0123456789abcdef01234567"
	f.publish("v1.0.0", []string{here}, &id)
	err := LockSource(context.Background(), f.project, f.lock, "origin", nil, f.opts())
	wantCode(t, err, errcode.IdentityMismatch, "0123456789abcdef0123456789abcdef01234567", f.gh.Commit("v1.0.0"))

	g := newFixture(t, "^1", "")
	ok := githubID(testOwner, testRepo, "v1.0.0")
	g.publish("v1.0.0", []string{here}, nil)
	ok.Commit = g.gh.Commit("v1.0.0")
	name := AssetName("vault", here)
	g.gh.SetAsset("v1.0.0", BundleName(name), g.ss.SignAsset(t, name, binary("v1.0.0", here), ok))
	if err := LockSource(context.Background(), g.project, g.lock, "origin", nil, g.opts()); err != nil {
		t.Fatal(err)
	}
}
