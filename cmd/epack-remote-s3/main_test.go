package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/registry/s3store"
)

var bin, epackBin string

func TestMain(m *testing.M) {
	os.Exit(testenv.MainWithS3(&mainRunner{m}))
}

// mainRunner builds the adapter once before the tests run.
type mainRunner struct{ m *testing.M }

func (r *mainRunner) Run() int {
	defer testkit.Cleanup()
	var err error
	bin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack-remote-s3")
	if err == nil {
		// epack itself, beside the adapter (bundled discovery), for the CLI tests.
		epackBin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return r.m.Run()
}

const prefix = "registry/x"

func adapterEnv(env testenv.S3, cfg map[string]any, access, secret string) []string {
	raw, _ := json.Marshal(cfg)
	return registrytest.HostEnv(
		"EPACK_REMOTE_CONFIG="+string(raw),
		"AWS_ACCESS_KEY_ID="+access,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
}

func newEnv(t *testing.T) *registrytest.Env {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	cfg := map[string]any{"bucket": bucket, "prefix": prefix, "endpoint": env.Endpoint, "path_style": true, "presign_expiry": "10m"}
	store, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: env.Endpoint, PathStyle: true},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	client := env.Client()
	return &registrytest.Env{
		A:     &registrytest.Process{Bin: bin, Env: adapterEnv(env, cfg, env.AccessKey, env.SecretKey), Dir: t.TempDir()},
		Store: store,
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
			u, _ := url.Parse(tgt.URL)
			key := strings.TrimPrefix(u.Path, "/"+bucket+"/")
			if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		},
		AllKeys: func(t testing.TB) []string {
			out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			return keys
		},
		Prefix: prefix + "/",
	}
}

// TestAdapterProcess runs the whole registry suite through the real binary
// against the real S3 server.
func TestAdapterProcess(t *testing.T) { registrytest.RunAll(t, newEnv) }

func TestCapabilities(t *testing.T) {
	p := &registrytest.Process{Bin: bin, Env: registrytest.HostEnv()}
	caps, err := p.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if caps.Name != "s3" || !caps.Features.PrepareFinalize || !caps.Features.Pull || caps.Limits.MaxPackBytes != s3store.MaxObjectBytes {
		t.Fatalf("capabilities %+v", caps)
	}
	// Multipart uploads from the threshold on, in S3's part bounds.
	m := caps.Limits.Multipart
	if !caps.Features.MultipartUpload || m == nil || m.ThresholdBytes != s3store.DefaultMultipartThreshold ||
		m.MinPartBytes != s3store.MinPartBytes || m.MaxPartBytes != s3store.MaxPartBytes || m.MaxParts != s3store.MaxParts {
		t.Fatalf("multipart capabilities %+v / %+v", caps.Features, m)
	}
	// extensions.multipart_threshold reaches the capabilities.
	p.Env = append(p.Env, protocol.EnvRemoteConfig+`={"bucket":"b","multipart_threshold":"8MiB"}`)
	caps, err = p.Capabilities(context.Background())
	if err != nil || caps.Limits.Multipart == nil || caps.Limits.Multipart.ThresholdBytes != 8<<20 {
		t.Fatalf("capabilities with a threshold: %+v, %v", caps, err)
	}
}

// TestClearErrors: configuration and credential problems are clear,
// correctly coded protocol errors, and write nothing.
func TestClearErrors(t *testing.T) {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	base := map[string]any{"bucket": bucket, "endpoint": env.Endpoint, "path_style": true}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, code, text string
		retryable        bool
		env              []string
	}{
		{"no bucket", protocol.CodeInvalidRequest, "bucket", false, adapterEnv(env, with("bucket", nil), env.AccessKey, env.SecretKey)},
		{"missing bucket", protocol.CodeNotFound, "does not exist", false, adapterEnv(env, with("bucket", "no-such-bucket-here"), env.AccessKey, env.SecretKey)},
		{"wrong secret", protocol.CodeAuthRequired, "credentials", false, adapterEnv(env, base, env.AccessKey, "wrong")},
		{"unknown key", protocol.CodeAuthRequired, "credentials", false, adapterEnv(env, base, "AKIDNOBODY", "wrong")},
		{"no credentials", protocol.CodeAuthRequired, "AWS_ACCESS_KEY_ID", false, adapterEnv(env, base, "", "")},
		{"unreachable", protocol.CodeNetworkError, "reach", true, adapterEnv(env, with("endpoint", "http://127.0.0.1:1"), env.AccessKey, env.SecretKey)},
		{"bad config", protocol.CodeInvalidRequest, "prefix", false, adapterEnv(env, with("prefix", "../up"), env.AccessKey, env.SecretKey)},
	}
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "errors")
	for _, c := range cases {
		proc := &registrytest.Process{Bin: bin, Env: c.env}
		_, err := proc.PushPrepare(context.Background(), &protocol.PushPrepareRequest{Target: protocol.TargetConfig{Stream: "s"}, Pack: p.Info()})
		if registrytest.Code(err) != c.code || !strings.Contains(err.Error(), c.text) || registrytest.Retryable(err) != c.retryable {
			t.Errorf("%s: %v (want %s containing %q, retryable=%v)", c.name, err, c.code, c.text, c.retryable)
		}
	}
	out, err := env.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(out.Contents) != 0 {
		t.Fatalf("failed calls wrote %d objects (%v)", len(out.Contents), err)
	}
}

// upstreamEnv is what the existing epack tool gives an adapter: its
// allowlisted environment, the protocol version and the remote's secrets:
// (COMPAT §4.4, §10.2) — never EPACK_REMOTE_CONFIG.
func upstreamEnv(secrets ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "EPACK_REMOTE_PROTOCOL_VERSION=1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}, secrets...)
}

// TestRegistryURLFromSecret: with no bucket in EPACK_REMOTE_CONFIG the
// adapter takes the registry from S3_REGISTRY_URL (a secret under the
// existing host); a bad URL is an invalid_request naming the variable.
func TestRegistryURLFromSecret(t *testing.T) {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	keys := []string{"AWS_ACCESS_KEY_ID=" + env.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.SecretKey}
	good := "S3_REGISTRY_URL=s3://" + bucket + "/team/evidence?endpoint=" + url.QueryEscape(env.Endpoint) + "&path_style=true&region=us-east-1&presign_expiry=10m"
	for _, tc := range []struct {
		name   string
		env    []string
		issuer string
		code   string
	}{
		{"url only", upstreamEnv(append(keys, good)...), "s3://" + bucket + "/team/evidence", ""},
		{"config without bucket", upstreamEnv(append(keys, good, `EPACK_REMOTE_CONFIG={"upload_headers":"none"}`)...), "s3://" + bucket + "/team/evidence", ""},
		{"config bucket wins", upstreamEnv(append(keys, "S3_REGISTRY_URL=s3://other-bucket", `EPACK_REMOTE_CONFIG={"bucket":"`+bucket+`","endpoint":"`+env.Endpoint+`","path_style":true}`)...), "s3://" + bucket, ""},
		{"bad scheme", upstreamEnv(append(keys, "S3_REGISTRY_URL=https://"+bucket)...), "", protocol.CodeInvalidRequest},
		{"unknown key", upstreamEnv(append(keys, "S3_REGISTRY_URL=s3://"+bucket+"?pathstyle=true")...), "", protocol.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &registrytest.Process{Bin: bin, Env: tc.env, Dir: t.TempDir()}
			id, err := p.Whoami(context.Background())
			if tc.code != "" {
				if registrytest.Code(err) != tc.code || !strings.Contains(err.Error(), "S3_REGISTRY_URL") || !strings.Contains(err.Error(), "s3://<bucket>") {
					t.Fatalf("want %s naming S3_REGISTRY_URL and its form, got %v", tc.code, err)
				}
				return
			}
			if err != nil || !strings.Contains(id.Issuer, tc.issuer) {
				t.Fatalf("whoami %+v, %v (want issuer %s)", id, err, tc.issuer)
			}
		})
	}
}
