package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestStartVersityGW(t *testing.T) {
	bin, ok := VersityGWBinary()
	if !ok {
		needVersityGW(t, bin)
	}
	for _, k := range []string{EnvEndpoint, EnvAccessKey, EnvSecretKey} {
		t.Setenv(k, "") // restored after the test
	}
	stop, err := StartVersityGW(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e, ok := LookupS3()
	if !ok {
		t.Fatal("environment not exported")
	}
	b := e.NewBucket(t)
	if _, err := e.Client().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatal(err)
	}
}

func TestRequireS3Skips(t *testing.T) {
	t.Setenv(EnvEndpoint, "")
	for _, tc := range []struct {
		requireS3, ci string
		want          string
	}{{"", "", "skip"}, {"1", "", "fatal"}, {"", "true", "fatal"}} {
		t.Setenv(EnvRequireS3, tc.requireS3)
		t.Setenv(EnvCI, tc.ci)
		r := &recordTB{TB: t}
		RequireS3(r)
		if r.outcome != tc.want {
			t.Errorf("%s=%q CI=%q: %s, want %s", EnvRequireS3, tc.requireS3, tc.ci, r.outcome, tc.want)
		}
	}
}

func TestStartServerTLS(t *testing.T) {
	bin, ok := VersityGWBinary()
	if !ok {
		needVersityGW(t, bin)
	}
	srv, err := StartServer(bin, true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if srv.CertFile == "" || srv.Endpoint[:8] != "https://" {
		t.Fatalf("%+v", srv)
	}
	b := srv.S3.NewBucket(t)
	if _, err := srv.S3.Client().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatal(err)
	}
}

// needVersityGW skips (or fails, when the suite requires S3 or runs in CI)
// a test that starts its own versitygw.
func needVersityGW(t *testing.T, bin string) {
	t.Helper()
	if os.Getenv(EnvRequireS3) == "1" {
		t.Fatalf("versitygw not installed at %s; %s=1 makes this a failure", bin, EnvRequireS3)
	}
	NeedFeature(t, "versitygw not installed at %s (scripts/versitygw.sh install)", bin)
}
