package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

var adapterBin string

func TestMain(m *testing.M) { os.Exit(testkit.Main(&mainRunner{m})) }

// mainRunner builds the adapter once before the tests run.
type mainRunner struct{ m *testing.M }

func (r *mainRunner) Run() int {
	var err error
	if adapterBin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack-remote-oci"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return r.m.Run()
}

var target = protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/prod"}

// proc is the adapter as the host runs it, on srv in namespace ns, with
// srv's user given as secrets and fileRoot as transport.file_root.
func proc(t *testing.T, srv testenv.OCI, ns, fileRoot string, cfg map[string]any, secrets ...string) *registrytest.Process {
	t.Helper()
	c := map[string]any{"registry": srv.Host, "namespace": ns, "ca_file": srv.CAFile}
	for k, v := range cfg {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	raw, _ := json.Marshal(c)
	home := t.TempDir() // no Docker config unless a test writes one
	if secrets == nil {
		secrets = []string{"OCI_USERNAME=" + srv.Username, "OCI_PASSWORD=" + srv.Password}
	}
	env := registrytest.HostEnv(append([]string{"HOME=" + home, "EPACK_REMOTE_CONFIG=" + string(raw), "EPACK_REMOTE_FILE_ROOT=" + fileRoot}, secrets...)...)
	return &registrytest.Process{Bin: adapterBin, Env: env, Dir: t.TempDir()}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func push(t *testing.T, p *registrytest.Process, pk registrytest.Pack, labels ...string) *protocol.PushFinalizeResponse {
	t.Helper()
	prep, err := p.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Remote: "origin", Target: target, Pack: pk.Info(), Release: protocol.ReleaseInfo{Labels: labels}})
	if err != nil {
		t.Fatalf("push.prepare: %v", err)
	}
	if prep.Upload.Method != protocol.MethodSkip {
		t.Fatalf("with credentials the adapter uploads itself, got %+v", prep.Upload)
	}
	fin, err := p.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Remote: "origin", Target: target,
		Pack: protocol.PackInfo{Path: pk.Path, Digest: pk.PackDigest, SizeBytes: int64(len(pk.Data))}, FinalizeToken: prep.FinalizeToken})
	if err != nil {
		t.Fatalf("push.finalize: %v", err)
	}
	return fin
}

func pull(t *testing.T, p *registrytest.Process, ref protocol.PullRef) (*protocol.PullPrepareResponse, []byte) {
	t.Helper()
	prep, err := p.PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Remote: "origin", Target: target, Ref: ref})
	if err != nil {
		t.Fatalf("pull.prepare %+v: %v", ref, err)
	}
	u, err := url.Parse(prep.Download.URL)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("download %+v: the host must not need the credential", prep.Download)
	}
	data, err := os.ReadFile(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PullFinalize(ctxT(t), &protocol.PullFinalizeRequest{Remote: "origin", Target: target, Digest: prep.Pack.Digest, FinalizeToken: prep.FinalizeToken}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(u.Path); !os.IsNotExist(err) {
		t.Fatalf("pull.finalize left %s", u.Path)
	}
	return prep, data
}

// TestAdapterProcess: push, push again, pull every way, list and whoami
// through the real binary against distribution with TLS and htpasswd.
func TestAdapterProcess(t *testing.T) {
	srv := testenv.RequireOCI(t)
	p := proc(t, srv, testenv.OCINamespace(t), t.TempDir(), nil)
	pk := registrytest.MakePack(t, t.TempDir(), "p.epack", "process")
	fin := push(t, p, pk, "v1.0.0")
	id := fin.Release.ReleaseID
	if again := push(t, p, pk, "extra"); again.Release.ReleaseID != id {
		t.Fatalf("second push gave %s, want %s", again.Release.ReleaseID, id)
	}
	for _, ref := range []protocol.PullRef{{Latest: true}, {ReleaseID: id}, {Version: "v1.0.0"}, {Digest: pk.FileDigest}} {
		prep, data := pull(t, p, ref)
		if !bytes.Equal(data, pk.Data) || prep.Pack.ReleaseID != id || prep.Pack.Digest != pk.FileDigest {
			t.Fatalf("pull %+v: %+v", ref, prep.Pack)
		}
	}
	list, err := p.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: target})
	if err != nil || len(list.Releases) != 1 || list.Releases[0].ReleaseID != id || strings.Join(list.Releases[0].Labels, ",") != "v1.0.0,extra" {
		t.Fatalf("releases.list %+v %v", list, err)
	}
	who, err := p.Whoami(ctxT(t))
	if err != nil || !who.Authenticated || !strings.Contains(who.Subject, srv.Username) || !strings.Contains(who.Issuer, srv.Host) {
		t.Fatalf("whoami %+v %v", who, err)
	}
}

func TestCapabilities(t *testing.T) {
	caps, err := (&registrytest.Process{Bin: adapterBin, Env: registrytest.HostEnv()}).Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := caps.Features
	if caps.Name != "oci" || !f.PrepareFinalize || !f.Pull || !f.Whoami || !f.ReleasesList || !f.RunsSync || f.DirectUpload || caps.Limits.MaxRunsPerSync != 1000 {
		t.Fatalf("capabilities %+v", caps)
	}
}

// TestClearErrors: configuration and credential problems are clear,
// correctly coded answers.
func TestClearErrors(t *testing.T) {
	srv := testenv.RequireOCI(t)
	ns := testenv.OCINamespace(t)
	pk := registrytest.MakePack(t, t.TempDir(), "p.epack", "errors")
	cases := []struct {
		name, code string
		p          *registrytest.Process
		text       []string
	}{
		{"no registry", protocol.CodeInvalidRequest, proc(t, srv, ns, "", map[string]any{"registry": nil}), []string{"extensions.registry"}},
		{"wrong password", protocol.CodeAuthRequired, proc(t, srv, ns, "", nil, "OCI_USERNAME="+srv.Username, "OCI_PASSWORD=wrong"), []string{"refused the credentials", srv.Username}},
		{"no credentials", protocol.CodeAuthRequired, proc(t, srv, ns, "", nil, "X=1"), []string{"OCI_USERNAME", "OCI_PASSWORD"}},
		{"username alone", protocol.CodeInvalidRequest, proc(t, srv, ns, "", nil, "OCI_USERNAME=x"), []string{"OCI_PASSWORD"}},
		{"untrusted", protocol.CodeInvalidRequest, proc(t, srv, ns, "", map[string]any{"ca_file": nil}), []string{"not trusted", "ca_file"}},
		{"bad stream", protocol.CodeInvalidRequest, proc(t, srv, ns, "", nil), []string{"cannot be an OCI repository name"}},
	}
	for _, c := range cases {
		tgt := target
		if c.name == "bad stream" {
			tgt.Stream = "acme/pröd"
		}
		_, err := c.p.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: tgt, Pack: pk.Info()})
		if registrytest.Code(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
			continue
		}
		for _, s := range c.text {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not mention %q", c.name, err, s)
			}
		}
	}
	// Pulling from an authenticated registry needs a file root.
	p := proc(t, srv, ns, t.TempDir(), nil)
	push(t, p, pk, "v1")
	_, err := proc(t, srv, ns, "", nil).PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Target: target, Ref: protocol.PullRef{Latest: true}})
	if registrytest.Code(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), "transport.file_root") {
		t.Fatalf("pull without a file root: %v", err)
	}
}

// oras runs the oras CLI with its own empty Docker config.
func oras(t *testing.T, srv testenv.OCI, dir string, args ...string) string {
	t.Helper()
	o := testenv.RequireOras(t)
	full := append(args, "--ca-file", srv.CAFile, "-u", srv.Username, "--password-stdin")
	cmd := exec.Command(o, full...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}
	cmd.Stdin = strings.NewReader(srv.Password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oras %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return string(out)
}

// TestOrasPullsOurPack: what epack pushed, `oras pull` writes as a file
// with identical bytes (the layer's title).
func TestOrasPullsOurPack(t *testing.T) {
	srv := testenv.RequireOCI(t)
	ns := testenv.OCINamespace(t)
	pk := registrytest.MakePack(t, t.TempDir(), "p.epack", "oras-pull")
	fin := push(t, proc(t, srv, ns, t.TempDir(), nil), pk, "v1.0.0")
	for _, tag := range []string{"v1.0.0", fin.Release.ReleaseID, "latest"} {
		out := t.TempDir()
		oras(t, srv, out, "pull", srv.Host+"/"+ns+"/acme/prod:"+tag, "-o", out)
		got, err := os.ReadFile(filepath.Join(out, "acme-prod.epack"))
		if err != nil || !bytes.Equal(got, pk.Data) {
			t.Fatalf("oras pull %s: %v (%d bytes)", tag, err, len(got))
		}
	}
	if out := oras(t, srv, t.TempDir(), "manifest", "fetch", srv.Host+"/"+ns+"/acme/prod:v1.0.0"); !strings.Contains(out, `"artifactType":"application/vnd.evidencepack.pack.v1"`) {
		t.Fatalf("manifest %s", out)
	}
}

// TestOrasDiscoversRuns: run results synced through the adapter are
// referrers of the release that `oras discover` lists (through the tag
// schema on distribution 2.8), and `oras pull` of one gives the result.
func TestOrasDiscoversRuns(t *testing.T) {
	srv := testenv.RequireOCI(t)
	ns := testenv.OCINamespace(t)
	p := proc(t, srv, ns, t.TempDir(), nil)
	pk := registrytest.MakePack(t, t.TempDir(), "p.epack", "oras-runs")
	push(t, p, pk, "v1.0.0")
	run := registrytest.WriteRun(t, strings.TrimSuffix(pk.Path, ".epack")+".runs", "run-001", `{"status":"ok"}`)
	resp, err := p.RunsSync(ctxT(t), &protocol.RunsSyncRequest{Target: target, FileDigest: pk.FileDigest, PackPath: pk.Path, Runs: []protocol.RunItem{run}})
	if err != nil || resp.Accepted != 1 {
		t.Fatalf("runs.sync %+v %v", resp, err)
	}
	out := oras(t, srv, t.TempDir(), "discover", srv.Host+"/"+ns+"/acme/prod:v1.0.0", "--artifact-type", "application/vnd.evidencepack.run.v1", "--format", "json")
	var d struct {
		Referrers []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || len(d.Referrers) != 1 || d.Referrers[0].Annotations["org.evidencepack.run.id"] != "run-001" {
		t.Fatalf("oras discover: %v\n%s", err, out)
	}
	dir := t.TempDir()
	oras(t, srv, dir, "pull", srv.Host+"/"+ns+"/acme/prod@"+d.Referrers[0].Digest, "-o", dir)
	if got, err := os.ReadFile(filepath.Join(dir, "result.json")); err != nil || string(got) != `{"status":"ok"}` {
		t.Fatalf("oras pull of the run: %q %v", got, err)
	}
}

// TestEpackPullsOrasPush: a pack `oras push`ed with the pack's artifact
// type, layer media type and annotations is pulled by epack, by version
// tag and as latest; epack may then push it into the stream as a release.
func TestEpackPullsOrasPush(t *testing.T) {
	srv := testenv.RequireOCI(t)
	ns := testenv.OCINamespace(t)
	dir := t.TempDir()
	pk := registrytest.MakePack(t, dir, "p.epack", "oras-push")
	oras(t, srv, dir, "push", srv.Host+"/"+ns+"/acme/prod:v2.0.0", "--artifact-type", "application/vnd.evidencepack.pack.v1",
		"--annotation", "org.evidencepack.stream=acme/prod", "--annotation", `org.evidencepack.labels=["v2.0.0"]`,
		"p.epack:application/vnd.evidencepack.pack.v1+zip")
	p := proc(t, srv, ns, t.TempDir(), nil)
	for _, ref := range []protocol.PullRef{{Version: "v2.0.0"}, {Version: "2.0.0"}, {Latest: true}} {
		if ref.Latest {
			oras(t, srv, dir, "tag", srv.Host+"/"+ns+"/acme/prod:v2.0.0", "latest")
		}
		prep, data := pull(t, p, ref)
		if !bytes.Equal(data, pk.Data) || prep.Pack.Digest != pk.FileDigest || prep.Pack.Stream != "acme/prod" || prep.Pack.ReleaseID != "" {
			t.Fatalf("pull %+v: %+v", ref, prep.Pack)
		}
	}
	fin := push(t, p, pk, "v2.0.0")
	if !registry.ValidReleaseID(fin.Release.ReleaseID) {
		t.Fatalf("release %+v", fin.Release)
	}
	other := registrytest.MakePack(t, dir, "q.epack", "other")
	_, err := p.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: other.Info(), Release: protocol.ReleaseInfo{Labels: []string{"v2.0.0"}}})
	if registrytest.Code(err) != protocol.CodeConflict || !strings.Contains(err.Error(), fin.Release.ReleaseID) {
		t.Fatalf("another pack with v2.0.0: %v", err)
	}
}

// TestDockerConfigCredentials: without OCI_* secrets the adapter uses the
// Docker config in HOME (or DOCKER_CONFIG), credential helpers included: a
// docker-credential-<name> program on PATH named by credHelpers.
func TestDockerConfigCredentials(t *testing.T) {
	srv := testenv.RequireOCI(t)
	ns := testenv.OCINamespace(t)
	helpers := t.TempDir()
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + srv.Username + "\",\"Secret\":\"" + srv.Password + "\"}' \"$server\"\n"
	if err := os.WriteFile(filepath.Join(helpers, "docker-credential-epacktest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgDir := t.TempDir()
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"credHelpers":{"`+srv.Host+`":"epacktest"}}`), 0o600)
	raw, _ := json.Marshal(map[string]any{"registry": srv.Host, "namespace": ns, "ca_file": srv.CAFile})
	env := registrytest.HostEnv("HOME="+t.TempDir(), "DOCKER_CONFIG="+cfgDir, "EPACK_REMOTE_CONFIG="+string(raw), "EPACK_REMOTE_FILE_ROOT="+t.TempDir())
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + helpers + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	p := &registrytest.Process{Bin: adapterBin, Env: env, Dir: t.TempDir()}
	who, err := p.Whoami(ctxT(t))
	if err != nil || !strings.Contains(who.Subject, srv.Username) || !strings.Contains(who.Subject, "Docker config") {
		t.Fatalf("whoami %+v %v", who, err)
	}
	pk := registrytest.MakePack(t, t.TempDir(), "p.epack", "helper")
	push(t, p, pk, "v1")
}
