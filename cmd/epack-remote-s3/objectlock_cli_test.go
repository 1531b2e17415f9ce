package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// lockCLI is a project whose remote "locked" is an S3 registry in bucket
// with extensions.object_lock, acting as the lock server's user.
func lockCLI(t *testing.T, l *testenv.LockServer, bucket string) *registrytest.CLI {
	dir := t.TempDir()
	proj := filepath.Join(dir, "project")
	os.MkdirAll(proj, 0o755)
	yaml := `stream: acme/prod
remotes:
  locked:
    adapter: s3
    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
    transport:
      allow_loopback_http: true
    extensions:
      bucket: ` + bucket + `
      endpoint: ` + l.Endpoint + `
      path_style: true
      object_lock: {mode: COMPLIANCE, retain: 1h}
    target: {workspace: acme, environment: prod}
`
	if err := os.WriteFile(filepath.Join(proj, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	return &registrytest.CLI{Bin: epackBin, Dir: proj, Env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "EPACK_INSECURE_ALLOW_UNPINNED=1", "NO_COLOR=1",
		"AWS_ACCESS_KEY_ID=" + l.User.AccessKey, "AWS_SECRET_ACCESS_KEY=" + l.User.SecretKey,
	}}
}

// TestCLIObjectLock: through the real CLI and adapter, a push to a bucket
// with Object Lock retains the pack and its record; --retain 10y lengthens
// it; epack hold set/clear; the log verifies; a bucket without Object
// Lock is refused by whoami and push with a clear message, nothing written.
func TestCLIObjectLock(t *testing.T) {
	l := testenv.RequireLockServer(t)
	bucket := l.NewLockBucket(t, true)
	c := lockCLI(t, l, bucket)
	who := c.MustRun(t, "remote", "whoami", "locked")
	if !strings.Contains(who.Stdout, "Object Lock COMPLIANCE") {
		t.Fatalf("whoami does not tell of Object Lock: %s", who.Stdout)
	}
	p := c.BuildPack(t, "locked", `{"locked":true}`)
	r := c.MustRun(t, "push", "locked", p, "--label", "v1", "--retain", "10y")
	id, _ := r.JSON["release_id"].(string)
	client := l.User.Client()
	ctx := context.Background()
	key := "releases/acme/prod/acme%2Fprod/" + id + ".json"
	ret, err := client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || ret.Retention == nil || aws.ToTime(ret.Retention.RetainUntilDate).Before(time.Now().Add(9*365*24*time.Hour)) {
		t.Fatalf("record retention: %+v %v", ret, err)
	}
	h := c.MustRun(t, "hold", "set", "locked", id)
	objs, _ := h.JSON["objects"].([]any)
	if h.JSON["hold"] != true || len(objs) != 2 {
		t.Fatalf("hold set: %s", h.Stdout)
	}
	lh, err := client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold: %+v %v", lh, err)
	}
	c.MustRun(t, "hold", "clear", "locked", id)
	if r := c.MustRun(t, "log", "verify", "locked"); r.JSON["ok"] != true {
		t.Fatalf("log verify: %s", r.Stdout)
	}
	if r := c.Run(t, "push", "locked", p, "--retain", "forever"); r.Code != 2 {
		t.Fatalf("--retain forever: exit %d %s", r.Code, r.Stderr)
	}

	plain := l.NewLockBucket(t, false)
	c2 := lockCLI(t, l, plain)
	for _, args := range [][]string{{"remote", "whoami", "locked"}, {"push", "locked", c2.BuildPack(t, "plain", `{"plain":true}`)}} {
		r := c2.Run(t, args...)
		if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "does not have S3 Object Lock enabled") {
			t.Fatalf("epack %v on a bucket without Object Lock: exit %d\n%s\n%s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	if out, _ := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(plain)}); len(out.Contents) != 0 {
		t.Fatalf("wrote to the bucket without Object Lock: %d objects", len(out.Contents))
	}
}
