package adaptercheck_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	_ "github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry/adaptercheck"
	_ "github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
	_ "github.com/evidencerelay/epack/registry/s3store"
)

// The adapter binaries under test: built from this tree, or given by
// ADAPTERCHECK_FILESYSTEM_BIN / ADAPTERCHECK_S3_BIN (to check another build).
var fsBin, s3Bin string

func TestMain(m *testing.M) { os.Exit(testenv.MainWithS3(&mainRunner{m})) }

type mainRunner struct{ m *testing.M }

func (r *mainRunner) Run() int {
	defer testkit.Cleanup()
	var err error
	trackAdapterSources()
	fsBin, s3Bin = os.Getenv("ADAPTERCHECK_FILESYSTEM_BIN"), os.Getenv("ADAPTERCHECK_S3_BIN")
	if fsBin == "" {
		fsBin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack-remote-filesystem")
	}
	if err == nil && s3Bin == "" {
		s3Bin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack-remote-s3")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return r.m.Run()
}

// trackAdapterSources stats the adapters' own source files, so that go
// test's result cache (which records the files a test looks at) reruns
// these tests when a command changes; the packages they are built from are
// imported below for the same reason.
func trackAdapterSources() {
	for _, dir := range []string{"../../cmd/epack-remote-filesystem", "../../cmd/epack-remote-s3"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			_, _ = os.Stat(f)
		}
	}
}

// parent is the test's environment with HOME moved to a fresh folder, so
// no ~/.aws or other user configuration reaches the adapters.
func parent(t *testing.T) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// ourHostEnv is what our host gives an adapter (COMPAT §4.4 plus our
// EPACK_REMOTE_* additions).
func ourHostEnv(t *testing.T, extra ...string) []string {
	return append(registrytest.HostEnv("HOME="+t.TempDir()), extra...)
}

// awsIsolation keeps the AWS SDK off the machine's configuration and IMDS.
var awsIsolation = []string{"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}

// check runs every checker case against tg.
func check(t *testing.T, tg adaptercheck.Target, cases []adaptercheck.Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			a, err := adaptercheck.Run(ctx, tg, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := adaptercheck.Verify(c, a); err != nil {
				t.Error(err)
			}
		})
	}
}

// unavailable turns the cases into what an adapter whose registry cannot
// be opened must answer: an error answer (any code) for every protocol
// command, exit 0 all the same.
func unavailable(cases []adaptercheck.Case) []adaptercheck.Case {
	out := append([]adaptercheck.Case(nil), cases...)
	for i := range out {
		if out[i].Stdin != nil {
			out[i].Want, out[i].Code = adaptercheck.Failure, ""
		}
	}
	return out
}

// TestFilesystemConformance: every command answered with exit 0 and one
// well-formed JSON answer, under our host, under the existing tool's host
// (FS_REGISTRY_ROOT as a secret), and with no registry configured at all.
func TestFilesystemConformance(t *testing.T) {
	pack := filepath.Join(t.TempDir(), "never-seen.epack")
	cases := adaptercheck.Cases(pack)
	t.Run("our host", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "registry")
		check(t, adaptercheck.Target{Bin: fsBin, Env: ourHostEnv(t, protocol.EnvFileRoot+"="+root, protocol.EnvRemoteConfig+"={}"), Dir: t.TempDir()}, cases)
		assertNoReleases(t, root)
	})
	t.Run("existing host", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "registry")
		check(t, adaptercheck.Target{Bin: fsBin, Env: adaptercheck.UpstreamEnv(parent(t), "FS_REGISTRY_ROOT="+root), Dir: t.TempDir()}, cases)
		assertNoReleases(t, root)
	})
	t.Run("no registry root", func(t *testing.T) {
		check(t, adaptercheck.Target{Bin: fsBin, Env: adaptercheck.UpstreamEnv(parent(t)), Dir: t.TempDir()}, unavailable(cases))
	})
}

// assertNoReleases: requests about never-seen packs created no release.
func assertNoReleases(t *testing.T, root string) {
	t.Helper()
	if ents, err := os.ReadDir(filepath.Join(root, "releases")); err == nil && len(ents) > 0 {
		t.Fatalf("checker requests created releases: %v", ents)
	}
}

// s3URL is the S3_REGISTRY_URL of bucket/prefix on the test server.
func s3URL(env testenv.S3, bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + url.QueryEscape(env.Endpoint) + "&path_style=true&region=us-east-1"
}

// TestS3Conformance: the same against the real S3 server (versitygw).
func TestS3Conformance(t *testing.T) {
	env := testenv.RequireS3(t)
	pack := filepath.Join(t.TempDir(), "never-seen.epack")
	cases := adaptercheck.Cases(pack)
	keys := []string{"AWS_ACCESS_KEY_ID=" + env.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.SecretKey}
	t.Run("our host", func(t *testing.T) {
		bucket := env.NewBucket(t)
		cfg := `{"bucket":"` + bucket + `","prefix":"checker","endpoint":"` + env.Endpoint + `","path_style":true}`
		extra := append(append([]string{protocol.EnvRemoteConfig + "=" + cfg}, keys...), awsIsolation...)
		check(t, adaptercheck.Target{Bin: s3Bin, Env: ourHostEnv(t, extra...), Dir: t.TempDir()}, cases)
		assertNoS3Releases(t, env, bucket)
	})
	t.Run("existing host", func(t *testing.T) {
		bucket := env.NewBucket(t)
		secrets := append([]string{"S3_REGISTRY_URL=" + s3URL(env, bucket, "checker")}, keys...)
		check(t, adaptercheck.Target{Bin: s3Bin, Env: adaptercheck.UpstreamEnv(parent(t), secrets...), Dir: t.TempDir()}, cases)
		assertNoS3Releases(t, env, bucket)
	})
	t.Run("no bucket", func(t *testing.T) {
		check(t, adaptercheck.Target{Bin: s3Bin, Env: adaptercheck.UpstreamEnv(parent(t), keys...), Dir: t.TempDir()}, unavailable(cases))
	})
	t.Run("bad S3_REGISTRY_URL", func(t *testing.T) {
		check(t, adaptercheck.Target{Bin: s3Bin, Env: adaptercheck.UpstreamEnv(parent(t), "S3_REGISTRY_URL=https://nope"), Dir: t.TempDir()}, unavailable(cases))
	})
	t.Run("unreachable server", func(t *testing.T) {
		secrets := append([]string{"S3_REGISTRY_URL=s3://some-bucket?endpoint=http://127.0.0.1:1&path_style=true"}, keys...)
		check(t, adaptercheck.Target{Bin: s3Bin, Env: adaptercheck.UpstreamEnv(parent(t), secrets...), Dir: t.TempDir()}, unavailable(cases))
	})
}

func assertNoS3Releases(t *testing.T, env testenv.S3, bucket string) {
	t.Helper()
	out, err := env.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("checker/releases/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) > 0 {
		t.Fatalf("checker requests created %d release objects", len(out.Contents))
	}
}

// TestRoundTripUnderExistingHost: with only the environment the existing
// tool's host gives (FS_REGISTRY_ROOT / S3_REGISTRY_URL and the AWS keys as
// secrets), a whole push.prepare → upload → push.finalize → pull.prepare →
// download → pull.finalize → runs.sync round trip works.
func TestRoundTripUnderExistingHost(t *testing.T) {
	t.Run("filesystem", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "registry")
		roundTrip(t, &registrytest.Process{Bin: fsBin, Env: adaptercheck.UpstreamEnv(parent(t), "FS_REGISTRY_ROOT="+root), Dir: t.TempDir()}, root)
	})
	t.Run("s3", func(t *testing.T) {
		env := testenv.RequireS3(t)
		bucket := env.NewBucket(t)
		secrets := []string{"S3_REGISTRY_URL=" + s3URL(env, bucket, "evidence"), "AWS_ACCESS_KEY_ID=" + env.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.SecretKey}
		roundTrip(t, &registrytest.Process{Bin: s3Bin, Env: adaptercheck.UpstreamEnv(parent(t), secrets...), Dir: t.TempDir()}, "s3://"+bucket+"/evidence")
	})
}

func roundTrip(t *testing.T, p *registrytest.Process, location string) {
	ctx := context.Background()
	dir := t.TempDir()
	pk := registrytest.MakePack(t, dir, "sample.epack", t.Name())
	tgt := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/evidence"}

	prep, err := p.PushPrepare(ctx, &protocol.PushPrepareRequest{Remote: "origin", Target: tgt, Pack: pk.Info(), Release: protocol.ReleaseInfo{Labels: []string{"v1.2.3"}}})
	if err != nil {
		t.Fatalf("push.prepare: %v", err)
	}
	if prep.Upload.Method == protocol.MethodSkip {
		t.Fatal("push.prepare skipped the upload of a new pack")
	}
	if err := registrytest.Upload(t, prep.Upload, pk.Data); err != nil {
		t.Fatalf("upload: %v", err)
	}
	fin, err := p.PushFinalize(ctx, &protocol.PushFinalizeRequest{Remote: "origin", Target: tgt,
		Pack: protocol.PackInfo{Path: pk.Path, Digest: pk.PackDigest, SizeBytes: int64(len(pk.Data))}, FinalizeToken: prep.FinalizeToken})
	if err != nil {
		t.Fatalf("push.finalize: %v", err)
	}
	rel := fin.Release.ReleaseID
	if rel == "" {
		t.Fatalf("push.finalize: no release id: %+v", fin)
	}
	pullTgt := protocol.TargetConfig{Workspace: tgt.Workspace, Environment: tgt.Environment}
	for _, ref := range []protocol.PullRef{{ReleaseID: rel}, {Version: "v1.2.3"}, {Digest: pk.FileDigest}} {
		pp, err := p.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: pullTgt, Ref: ref})
		if err != nil {
			t.Fatalf("pull.prepare %+v: %v", ref, err)
		}
		if pp.Pack.Digest != pk.FileDigest || pp.Pack.ReleaseID != rel {
			t.Fatalf("pull.prepare %+v: pack %+v (want digest %s, release %s)", ref, pp.Pack, pk.FileDigest, rel)
		}
		if got := registrytest.Download(t, pp.Download); !bytes.Equal(got, pk.Data) {
			t.Fatalf("pull.prepare %+v: downloaded %d bytes that differ from the pushed pack", ref, len(got))
		}
		if _, err := p.PullFinalize(ctx, &protocol.PullFinalizeRequest{Remote: "origin", Target: pullTgt, Digest: pp.Pack.Digest, FinalizeToken: pp.FinalizeToken}); err != nil {
			t.Fatalf("pull.finalize: %v", err)
		}
	}
	run := registrytest.WriteRun(t, filepath.Join(dir, "sample.runs"), "run-001", `{"ok":true}`)
	rs, err := p.RunsSync(ctx, &protocol.RunsSyncRequest{Target: tgt, FileDigest: pk.FileDigest, Runs: []protocol.RunItem{run}})
	if err != nil || rs.Accepted != 1 {
		t.Fatalf("runs.sync: %+v, %v", rs, err)
	}
	id, err := p.Whoami(ctx)
	if err != nil || !id.Authenticated || !strings.Contains(id.Issuer, location) {
		t.Fatalf("whoami: %+v, %v (want issuer %s)", id, err, location)
	}
}
