package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/protocol"
)

// wantCode is the shared assertion of internal/testkit: err carries code
// as its outermost errcode, and its text mentions each given substring.
var wantCode = testkit.WantCode

func TestVerifiedSDKAdapterRoundTrip(t *testing.T) {
	for _, memfd := range []bool{true, false} {
		t.Run(map[bool]string{true: "memfd", false: "tempcopy"}[memfd], func(t *testing.T) {
			was := sealedexec.SetMemfd(memfd)
			defer sealedexec.SetMemfd(was)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			t.Setenv("XDG_RUNTIME_DIR", "")
			p := newProject(t)
			bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
			digest := p.pin("origin", bin)
			r := p.remote("origin", bin)
			r.Extensions = map[string]any{"subject": "alice"}
			s, err := p.open(r, Policy{Frozen: true})
			if err != nil {
				t.Fatal(err)
			}
			if s.Resolved().Status != StatusVerified || s.Resolved().Origin != OriginBinary || s.Digest() != digest {
				t.Fatalf("resolved %+v digest %s", s.Resolved(), s.Digest())
			}
			if c := s.Capabilities(); c.Name != "sdk" || !c.Features.Whoami || c.Kind != "remote_adapter" {
				t.Fatalf("caps %+v", c)
			}
			ctx := context.Background()
			pp, err := s.PushPrepare(ctx, &protocol.PushPrepareRequest{Pack: protocol.PackInfo{Path: "/x.epack", FileDigest: "sha256:" + strings.Repeat("1", 64), SizeBytes: 3}})
			if err != nil {
				t.Fatal(err)
			}
			if !pp.OK || pp.Type != "push.prepare.result" || pp.Upload.Method != "PUT" || pp.FinalizeToken != "tok-origin" {
				t.Fatalf("prepare %+v", pp)
			}
			pf, err := s.PushFinalize(ctx, &protocol.PushFinalizeRequest{FinalizeToken: pp.FinalizeToken})
			if err != nil || pf.Release.ReleaseID != "rel_1" {
				t.Fatalf("finalize %+v %v", pf, err)
			}
			pl, err := s.PullPrepare(ctx, &protocol.PullPrepareRequest{Ref: protocol.PullRef{Latest: true}})
			if err != nil || pl.Pack.SizeBytes != 42 {
				t.Fatalf("pull %+v %v", pl, err)
			}
			fin, err := s.PullFinalize(ctx, &protocol.PullFinalizeRequest{Digest: pl.Pack.Digest})
			if err != nil || !fin.Confirmed {
				t.Fatalf("pull finalize %+v %v", fin, err)
			}
			rs, err := s.RunsSync(ctx, &protocol.RunsSyncRequest{Runs: []protocol.RunItem{{RunID: "a"}, {RunID: "b"}}})
			if err != nil || rs.Accepted != 2 || len(rs.Items) != 2 {
				t.Fatalf("runs %+v %v", rs, err)
			}
			who, err := s.Whoami(ctx)
			if err != nil || !who.Identity.Authenticated || who.Identity.Subject != "alice" {
				t.Fatalf("whoami %+v %v", who, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := s.Whoami(ctx); err == nil {
				t.Fatal("call after Close succeeded")
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Fatalf("temp files left: %v", ents)
			}
		})
	}
}

func TestAdapterErrorMapping(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	for _, tc := range []struct {
		code      string
		want      errcode.Code
		retryable bool
	}{
		{protocol.CodeAuthRequired, errcode.AuthRequired, false},
		{protocol.CodeForbidden, errcode.RemoteForbidden, false},
		{protocol.CodeConflict, errcode.RemoteConflict, false},
		{protocol.CodeNetworkError, errcode.NetworkError, true},
		{protocol.CodeRateLimited, errcode.AdapterError, true},
		{protocol.CodeNotFound, errcode.AdapterError, false},
	} {
		r := p.remote("origin", bin)
		r.Extensions = map[string]any{"fail": tc.code}
		s, err := p.open(r, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.PushPrepare(context.Background(), &protocol.PushPrepareRequest{})
		s.Close()
		wantCode(t, err, tc.want, `adapter "sdk" push.prepare: `+tc.code+`; adapter says: "configured to fail`)
		var ae *AdapterError
		if !errors.As(err, &ae) || ae.Body.Code != tc.code || ae.Retryable() != tc.retryable {
			t.Fatalf("%s: %#v", tc.code, ae)
		}
		if tc.code == protocol.CodeAuthRequired {
			if !ae.AuthRequired() || errcode.HintOf(err) != `the adapter suggests running "sdkadapter login"` {
				t.Fatalf("hint %q", errcode.HintOf(err))
			}
		}
	}
}

func TestUnpinnedPolicy(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	r := p.remote("origin", bin)
	_, err := p.open(r, Policy{})
	wantCode(t, err, errcode.LockfileInvalid, `external remote "origin" is not pinned in lockfile`)
	if h := errcode.HintOf(err); !strings.Contains(h, "epack lock origin") || !strings.Contains(h, "--insecure-allow-unpinned") {
		t.Fatalf("hint %q", h)
	}
	if exitstatus.Of(err) != 10 {
		t.Fatalf("exit %d", exitstatus.Of(err))
	}
	_, err = p.open(r, Policy{Frozen: true})
	wantCode(t, err, errcode.LockfileInvalid, "frozen")
	_, err = p.open(r, Policy{Frozen: true, AllowUnpinned: true})
	wantCode(t, err, errcode.InvalidInput, "cannot be used with --frozen")

	var stderr syncBuffer
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Policy: Policy{AllowUnpinned: true, Component: "push"}, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Resolved().Status != StatusUnverified {
		t.Fatalf("status %s", s.Resolved().Status)
	}
	if !strings.Contains(stderr.String(), "WARNING: running unpinned adapter") {
		t.Fatalf("stderr %q", stderr.String())
	}
	log, err := os.ReadFile(filepath.Join(p.root, ".epack", "audit.log"))
	if err != nil || !strings.Contains(string(log), `"event":"insecure_bypass"`) || !strings.Contains(string(log), `"component":"push"`) {
		t.Fatalf("audit %q %v", log, err)
	}

	// The library reads no environment: EPACK_INSECURE_ALLOW_UNPINNED is
	// the CLI's to map onto AllowUnpinned (internal/cli execPolicy).
	t.Setenv(EnvAllowUnpinned, "true")
	_, err = p.open(r, Policy{})
	wantCode(t, err, errcode.LockfileInvalid, "not pinned")
	s2, err := p.open(r, Policy{AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestDigestMismatchAndSwap(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	p := newProject(t)
	dir := t.TempDir()
	bin := copyAdapter(t, dir, "epack-remote-sdk")
	p.pinDigest("origin", "sha256:"+strings.Repeat("0", 64))
	_, err := p.open(p.remote("origin", bin), Policy{})
	wantCode(t, err, errcode.DigestMismatch, "digest mismatch for epack-remote-sdk")
	if exitstatus.Of(err) != 11 {
		t.Fatalf("exit %d", exitstatus.Of(err))
	}
	// Even the insecure override does not run a mismatching pinned adapter.
	_, err = p.open(p.remote("origin", bin), Policy{AllowUnpinned: true})
	wantCode(t, err, errcode.DigestMismatch, "")

	// Swapped after lock: pinned, then replaced by another program.
	p.pin("origin", bin)
	scriptAdapter(t, dir, "epack-remote-sdk", `echo '{"ok":true}'`)
	_, err = p.open(p.remote("origin", bin), Policy{})
	wantCode(t, err, errcode.DigestMismatch, "")
	if _, err := os.Stat(filepath.Join(p.root, "adapter.pid")); err == nil {
		t.Fatal("the swapped adapter ran")
	}
	for _, memfd := range []bool{false, true} {
		was := sealedexec.SetMemfd(memfd)
		_, err = p.open(p.remote("origin", bin), Policy{})
		sealedexec.SetMemfd(was)
		wantCode(t, err, errcode.DigestMismatch, "")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestSymlinkAndMissingBinary(t *testing.T) {
	p := newProject(t)
	dir := t.TempDir()
	bin := copyAdapter(t, dir, "real-adapter")
	link := filepath.Join(dir, "epack-remote-link")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	p.pin("origin", bin)
	_, err := p.open(p.remote("origin", link), Policy{})
	wantCode(t, err, errcode.SymlinkNotAllowed, "refusing to execute symlink")

	_, err = p.open(p.remote("origin", filepath.Join(dir, "epack-remote-missing")), Policy{})
	wantCode(t, err, errcode.BinaryNotFound, "not found")
	if exitstatus.Of(err) != 14 {
		t.Fatalf("exit %d", exitstatus.Of(err))
	}
	_, err = p.open(p.remote("origin", "relative/epack-remote-x"), Policy{})
	wantCode(t, err, errcode.ConfigInvalid, "absolute")
	// A path with shell syntax is a literal path, never a shell command.
	_, err = p.open(p.remote("origin", filepath.Join(dir, "x; touch pwned")), Policy{AllowUnpinned: true})
	wantCode(t, err, errcode.BinaryNotFound, "")
}

func TestStrictProduction(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	strict := Policy{StrictProduction: true}
	_, err := p.open(p.remote("origin", bin), Policy{AllowUnpinned: true, StrictProduction: true, Component: "push_cli"})
	wantCode(t, err, errcode.PolicyViolation, "strict production mode forbids insecure execution overrides for push_cli")
	if !strings.Contains(errcode.HintOf(err), EnvAllowUnpinned) {
		t.Errorf("hint %q", errcode.HintOf(err))
	}
	r := p.remote("origin", bin)
	r.InsecureEndpoint = "https://api.example.com"
	_, err = p.open(r, strict)
	wantCode(t, err, errcode.PolicyViolation, "custom endpoints")
	if !strings.Contains(errcode.HintOf(err), envStrictProduction) {
		t.Errorf("hint %q", errcode.HintOf(err))
	}
	s, err := p.open(p.remote("origin", bin), strict)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestPolicyReadsNoEnvironment: EPACK_STRICT_PRODUCTION and
// EPACK_INSECURE_ALLOW_UNPINNED set in the process change nothing unless the
// caller sets the fields (the CLI does; see internal/cli execPolicy).
func TestPolicyReadsNoEnvironment(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	t.Setenv(envStrictProduction, "1")
	t.Setenv(EnvAllowUnpinned, "1")
	custom := p.remote("origin", bin)
	custom.InsecureEndpoint = "https://api.example.com"

	// Field false, variable set: not strict, not allowed unpinned.
	if allow, err := (Policy{AllowUnpinned: true}).Check(custom); err != nil || !allow {
		t.Fatalf("strict production honoured from the environment: %v %v", allow, err)
	}
	if allow, err := (Policy{}).Check(nil); err != nil || allow {
		t.Fatalf("allow-unpinned honoured from the environment: %v %v", allow, err)
	}
	if _, err := (Policy{Frozen: true}).Check(nil); err != nil {
		t.Fatalf("frozen with the variable only: %v", err)
	}
	s, err := p.open(custom, Policy{AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	unpinned := p.remote("other", copyAdapter(t, t.TempDir(), "epack-remote-sdk"))
	_, err = p.open(unpinned, Policy{})
	wantCode(t, err, errcode.LockfileInvalid, "not pinned")

	// Field true: honoured, whatever the variable says.
	t.Setenv(envStrictProduction, "")
	t.Setenv(EnvAllowUnpinned, "")
	_, err = (Policy{AllowUnpinned: true, StrictProduction: true, Component: "pull"}).Check(nil)
	wantCode(t, err, errcode.PolicyViolation, "strict production mode forbids insecure execution overrides for pull")
	_, err = p.open(custom, Policy{StrictProduction: true})
	wantCode(t, err, errcode.PolicyViolation, "custom endpoints")
	if allow, err := (Policy{AllowUnpinned: true}).Check(nil); err != nil || !allow {
		t.Fatalf("allow-unpinned field: %v %v", allow, err)
	}
	_, err = (Policy{Frozen: true, AllowUnpinned: true}).Check(nil)
	wantCode(t, err, errcode.InvalidInput, "cannot be used with --frozen")
	s, err = p.open(unpinned, Policy{AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestPathAndBundledDiscovery(t *testing.T) {
	p := newProject(t)
	pathDir := t.TempDir()
	bundleDir := t.TempDir()
	onPath := copyAdapter(t, pathDir, "epack-remote-sdk")
	t.Setenv("PATH", pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(envAdapterDir, filepath.Join(t.TempDir(), "empty"))
	r := &config.Remote{Name: "origin", Adapter: "sdk"}

	res, err := Resolve(p.root, r, p.lock)
	if err != nil || res.Origin != OriginPath || res.Path != onPath || res.Status != StatusUnverified {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = p.open(r, Policy{})
	wantCode(t, err, errcode.LockfileInvalid, "not pinned")
	p.pin("origin", onPath)
	s, err := p.open(r, Policy{Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Resolved().Status != StatusVerified || s.Resolved().Origin != OriginPath {
		t.Fatalf("%+v", s.Resolved())
	}
	s.Close()

	// A symlink on PATH resolves to its target (the pinned bytes).
	linkDir := t.TempDir()
	if err := os.Symlink(onPath, filepath.Join(linkDir, "epack-remote-lnk")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", linkDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	res, err = Resolve(p.root, &config.Remote{Name: "l", Adapter: "lnk"}, p.lock)
	if err != nil || res.Origin != OriginPath || res.Path != onPath {
		t.Fatalf("symlink on PATH: %+v %v, want origin %s and path %s", res, err, OriginPath, onPath)
	}

	// Bundled beats PATH.
	t.Setenv(envAdapterDir, bundleDir)
	bundled := copyAdapter(t, bundleDir, "epack-remote-sdk")
	res, err = Resolve(p.root, r, p.lock)
	if err != nil || res.Origin != OriginBundled || res.Path != bundled || res.Status != StatusVerified {
		t.Fatalf("%+v %v", res, err)
	}
	s, err = p.open(r, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Directories and non-executables on PATH are skipped.
	os.Remove(bundled)
	weird := t.TempDir()
	os.Mkdir(filepath.Join(weird, "epack-remote-dir"), 0o755)
	os.WriteFile(filepath.Join(weird, "epack-remote-noexec"), []byte("x"), 0o644)
	t.Setenv("PATH", weird)
	for _, a := range []string{"dir", "noexec", "nothing"} {
		res, err := Resolve(p.root, &config.Remote{Name: "x", Adapter: a}, p.lock)
		if err != nil || res.Status != StatusNotFound {
			t.Fatalf("%s: %+v %v", a, res, err)
		}
		_, err = p.open(&config.Remote{Name: "x", Adapter: a}, Policy{AllowUnpinned: true})
		wantCode(t, err, errcode.AdapterNotFound, "not found")
	}
}

func TestSourceRemoteInstalledManagedAndMarker(t *testing.T) {
	p := newProject(t)
	r := &config.Remote{Name: "origin", Source: "acme/epack-remote-sdk@^1.0.0"}
	t.Setenv("PATH", t.TempDir())
	t.Setenv(envAdapterDir, t.TempDir())
	digest := fileDigest(t, sdkAdapterPath)
	p.lock.Remotes["origin"] = &config.LockedRemote{Source: "github.com/acme/epack-remote-sdk", Version: "v1.0.0",
		Platforms: map[string]config.LockedPlatform{config.PlatformKey(): {Digest: digest}}}

	res, err := Resolve(p.root, r, p.lock)
	if err != nil || res.Status != StatusManaged {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = p.open(r, Policy{})
	wantCode(t, err, errcode.AdapterNotFound, "not installed")
	if !strings.Contains(errcode.HintOf(err), "epack sync") {
		t.Fatalf("hint %q", errcode.HintOf(err))
	}

	installed := false
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock,
		Prompt: func(remote, adapter string) bool { return remote == "origin" && adapter == "sdk" },
		Install: func(ctx context.Context, res *Resolved) error {
			installed = true
			if err := os.MkdirAll(res.InstallDir, 0o755); err != nil {
				return err
			}
			copyAdapter(t, res.InstallDir, res.BinaryName())
			return nil
		}})
	if err != nil || !installed {
		t.Fatalf("%v installed=%v", err, installed)
	}
	if s.Resolved().Origin != OriginInstalled || s.Resolved().Status != StatusVerified {
		t.Fatalf("%+v", s.Resolved())
	}
	s.Close()

	os.WriteFile(filepath.Join(s.Resolved().InstallDir, InsecureInstallMarker), nil, 0o644)
	_, err = p.open(r, Policy{})
	wantCode(t, err, errcode.InsecureInstall, "without signature verification")
}

func TestCapabilitiesChecks(t *testing.T) {
	p := newProject(t)
	dir := t.TempDir()
	for _, tc := range []struct{ caps, want string }{
		{`{"name":"x","deploy_protocol_version":2,"features":{}}`, "protocol version 2 not supported"},
		{`{"name":"x","deploy_protocol_version":0,"features":{}}`, "protocol version 0 not supported"},
		{`{"name":"x","kind":"tool","deploy_protocol_version":1,"features":{}}`, `kind "tool"`},
		{`{"name":"x","name":"y","deploy_protocol_version":1,"features":{}}`, "duplicate key"},
		{`not json`, "parsing capabilities"},
	} {
		bin := filepath.Join(dir, "epack-remote-caps")
		os.WriteFile(bin, []byte("#!/bin/sh\nprintf '%s' '"+tc.caps+"'\n"), 0o755)
		_, err := p.open(p.remote("origin", bin), Policy{AllowUnpinned: true})
		wantCode(t, err, errcode.ProtocolMismatch, tc.want)
	}
	// A feature the adapter did not announce is refused before running it.
	bin := filepath.Join(dir, "epack-remote-caps")
	os.WriteFile(bin, []byte("#!/bin/sh\nprintf '%s' '{\"name\":\"x\",\"deploy_protocol_version\":1,\"features\":{}}'\n"), 0o755)
	s, err := p.open(p.remote("origin", bin), Policy{AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Whoami(context.Background())
	wantCode(t, err, errcode.UnsupportedFeature, "does not support whoami")
	_, err = s.PullPrepare(context.Background(), &protocol.PullPrepareRequest{})
	wantCode(t, err, errcode.UnsupportedFeature, "does not support pull")
}

func TestLockSourceMustMatchConfig(t *testing.T) {
	p := newProject(t)
	r := &config.Remote{Name: "origin", Source: "acme/epack-remote-sdk@^1.0.0"}
	p.lock.Remotes["origin"] = &config.LockedRemote{Source: "github.com/evil/epack-remote-sdk", Version: "v1.0.0",
		Platforms: map[string]config.LockedPlatform{config.PlatformKey(): {Digest: "sha256:" + strings.Repeat("0", 64)}}}
	_, err := Resolve(p.root, r, p.lock)
	wantCode(t, err, errcode.LockfileInvalid, `pins remote "origin" to source "github.com/evil/epack-remote-sdk"`)
	p.lock.Remotes["origin"].Source = "https://github.com/ACME/epack-remote-sdk"
	if res, err := Resolve(p.root, r, p.lock); err != nil || res.Status != StatusManaged {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestSourceRemoteWithoutLockEntry(t *testing.T) {
	p := newProject(t)
	t.Setenv("PATH", t.TempDir())
	t.Setenv(envAdapterDir, t.TempDir())
	_, err := p.open(&config.Remote{Name: "origin", Source: "acme/epack-remote-x@v1"}, Policy{AllowUnpinned: true})
	wantCode(t, err, errcode.AdapterNotFound, "epack.lock.yaml")
	if !strings.Contains(errcode.HintOf(err), "epack sync") {
		t.Fatalf("hint %q", errcode.HintOf(err))
	}
}
