package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/registry/s3store"
)

// newCLI makes a project whose remote "origin" is an S3 registry in a fresh
// bucket on the test server (plain http on loopback, so the remote sets
// transport.allow_loopback_http and the adapter verifies uploads at finalize).
func newCLI(t *testing.T) (*registrytest.CLI, *s3store.Store) {
	return newCLIOn(t, testenv.RequireS3(t), "")
}

// newCLIOn is newCLI on a given server; certFile (TLS) is handed to epack
// and the adapter as SSL_CERT_FILE.
func newCLIOn(t *testing.T, env testenv.S3, certFile string) (*registrytest.CLI, *s3store.Store) {
	bucket := env.NewBucket(t)
	dir := t.TempDir()
	proj := filepath.Join(dir, "project")
	os.MkdirAll(proj, 0o755)
	yaml := `stream: acme/prod
remotes:
  origin:
    adapter: s3
    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
    transport:
      allow_loopback_http: true
    extensions:
      bucket: ` + bucket + `
      prefix: evidence
      endpoint: ` + env.Endpoint + `
      path_style: true
    target:
      workspace: acme
      environment: prod
`
	if err := os.WriteFile(filepath.Join(proj, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "evidence", Endpoint: env.Endpoint, PathStyle: true},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, ""), HTTPClient: env.HTTPClient})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	cliEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "EPACK_INSECURE_ALLOW_UNPINNED=1", "NO_COLOR=1",
		"AWS_ACCESS_KEY_ID=" + env.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.SecretKey,
	}
	if certFile != "" {
		cliEnv = append(cliEnv, "SSL_CERT_FILE="+certFile)
	}
	return &registrytest.CLI{Bin: epackBin, Dir: proj, Env: cliEnv}, store
}

// TestCLIRoundTrip: the real CLI with the real adapter process and S3 server.
func TestCLIRoundTrip(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLIFlow(t, c, "origin", store, "acme/prod")
}

// TestCLIRoundTripTLS: the same over https, where the host sends the
// adapter's signed upload headers (Content-MD5, x-amz-checksum-sha256) and
// uploads go straight to the content address, verified by the server.
func TestCLIRoundTripTLS(t *testing.T) {
	bin, ok := testenv.VersityGWBinary()
	if !ok {
		if os.Getenv(testenv.EnvRequireS3) == "1" {
			t.Fatalf("versitygw not installed at %s", bin)
		}
		testenv.NeedFeature(t, "versitygw not installed at %s (scripts/versitygw.sh install)", bin)
	}
	srv, err := testenv.StartServer(bin, true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, store := newCLIOn(t, srv.S3, srv.CertFile)
	registrytest.CLIFlow(t, c, "origin", store, "acme/prod")
	staged, _ := store.List(context.Background(), "staging/", 0)
	for _, e := range staged {
		if !strings.HasSuffix(e.Key, ".json") {
			t.Fatalf("signed uploads should not use staging objects: %s", e.Key)
		}
	}
	// And a concurrent load over TLS.
	registrytest.CLIConcurrent(t, c, "origin", store, "acme/prod", 8)
}

// TestCLIConcurrent: 16 epack processes into one stream, then 8 with one pack.
func TestCLIConcurrent(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLIConcurrent(t, c, "origin", store, "acme/prod", 16)
}

// TestCLILog: epack log verify through the real CLI, adapter and S3 server.
func TestCLILog(t *testing.T) {
	c, store := newCLI(t)
	registrytest.CLILog(t, c, "origin", store, "acme/prod", registrytest.Tamper{})
}
