package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// LockServer is a versitygw server whose buckets can have Object Lock, with
// an account that is not root: versitygw enforces retention and legal holds
// only for such accounts, so tests of write-once storage act as User.
type LockServer struct {
	*Server
	bin string
	// User is an account of role "userplus" (may create buckets).
	User S3
}

// RequireLockServer starts a versitygw server with IAM and versioning for
// the test (stopped at its end) and creates a non-root user; it skips, or
// fails under EPACK_TEST_REQUIRE_S3=1 or CI, when versitygw is not installed.
func RequireLockServer(t testing.TB) *LockServer {
	t.Helper()
	bin, ok := VersityGWBinary()
	if !ok {
		msg := fmt.Sprintf("versitygw not installed at %s (scripts/versitygw.sh install)", bin)
		if StrictSkips() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv, err := StartServerWith(bin, ServerOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	var kb [6]byte
	var sb [20]byte
	_, _ = rand.Read(kb[:])
	_, _ = rand.Read(sb[:])
	user := srv.S3
	user.AccessKey, user.SecretKey = "user"+hex.EncodeToString(kb[:]), hex.EncodeToString(sb[:])
	ls := &LockServer{Server: srv, bin: bin, User: user}
	ls.admin(t, "create-user", "--access", user.AccessKey, "--secret", user.SecretKey, "--role", "userplus")
	return ls
}

// admin runs `versitygw admin` as root against the server.
func (l *LockServer) admin(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.bin, append([]string{"admin", "--access", l.AccessKey, "--secret", l.SecretKey, "--endpoint-url", l.Endpoint}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("versitygw admin %v: %v\n%s", args, err, out.String())
	}
}

// NewLockBucket creates a bucket owned by User, with Object Lock enabled
// when lock is true.
func (l *LockServer) NewLockBucket(t testing.TB, lock bool) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("epack-lock-%s-%d", hex.EncodeToString(b[:]), bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := l.User.Client().CreateBucket(ctx, in); err != nil {
		t.Fatalf("creating bucket %s as %s: %v", name, l.User.AccessKey, err)
	}
	return name
}
