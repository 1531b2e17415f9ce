package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Environment variables naming the S3 test server.
const (
	EnvEndpoint  = "EPACK_TEST_S3_ENDPOINT"
	EnvAccessKey = "EPACK_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "EPACK_TEST_S3_SECRET_KEY"
	// EnvRequireS3 = "1" turns a missing S3 server into a test failure.
	EnvRequireS3 = "EPACK_TEST_REQUIRE_S3"
)

// VersityGWVersion is the versitygw release the tests run against.
const VersityGWVersion = "v1.8.0"

// S3 is a reachable S3 test server.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// LookupS3 returns the S3 server named by the environment, if any.
func LookupS3() (S3, bool) {
	e := S3{
		Endpoint:  os.Getenv(EnvEndpoint),
		AccessKey: os.Getenv(EnvAccessKey),
		SecretKey: os.Getenv(EnvSecretKey),
		Region:    "us-east-1",
	}
	return e, e.Endpoint != "" && e.AccessKey != "" && e.SecretKey != ""
}

// RequireS3 returns the S3 test server, or skips the test when none is
// configured — unless EPACK_TEST_REQUIRE_S3=1, when it fails instead.
func RequireS3(t testing.TB) S3 {
	t.Helper()
	e, ok := LookupS3()
	if ok {
		return e
	}
	msg := fmt.Sprintf("no S3 test server: set %s, %s, %s (scripts/versitygw.sh start writes them)", EnvEndpoint, EnvAccessKey, EnvSecretKey)
	if os.Getenv(EnvRequireS3) == "1" {
		t.Fatal(msg + "; " + EnvRequireS3 + "=1 makes this a failure")
	}
	t.Skip(msg)
	return S3{}
}

// Client returns an S3 client for the test server (path-style, static keys).
func (e S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     e.Region,
		BaseEndpoint:               aws.String(e.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

var bucketSeq atomic.Int64

// NewBucket creates a fresh, uniquely named bucket for one test.
func (e S3) NewBucket(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("epack-t%d-%s-%d", time.Now().Unix()%100000, hex.EncodeToString(b[:]), bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// CacheDir is where scripts/versitygw.sh installs versitygw:
// ${EPACK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/epack-test}.
func CacheDir() string {
	if d := os.Getenv("EPACK_TEST_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "epack-test")
}

// VersityGWBinary returns the cached versitygw binary path and whether it exists.
func VersityGWBinary() (string, bool) {
	p := filepath.Join(CacheDir(), "bin-"+VersityGWVersion, "versitygw")
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Runner is what MainWithS3 runs: *testing.M, or a wrapper around it.
type Runner interface{ Run() int }

// MainWithS3 is for a package's TestMain: when no S3 server is configured
// but the cached versitygw binary exists, it starts one on 127.0.0.1 with a
// temporary posix backend and random root keys, exports the EPACK_TEST_S3_*
// variables for the tests (and their child processes), runs them, and stops
// the server. Otherwise it just runs the tests.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.MainWithS3(m)) }
func MainWithS3(m Runner) int {
	if _, ok := LookupS3(); ok {
		return m.Run()
	}
	bin, ok := VersityGWBinary()
	if !ok {
		return m.Run()
	}
	stop, err := StartVersityGW(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: could not start versitygw (%v); S3 tests will skip\n", err)
		return m.Run()
	}
	defer stop()
	return m.Run()
}

// StartVersityGW starts versitygw from bin and exports EPACK_TEST_S3_*.
// The returned function stops it and removes its data.
func StartVersityGW(bin string) (func(), error) {
	dir, err := os.MkdirTemp("", "epack-vgw-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "gw")
	if err := os.Mkdir(data, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var kb [6]byte
	var sb [20]byte
	_, _ = rand.Read(kb[:])
	_, _ = rand.Read(sb[:])
	access, secret := "epack"+hex.EncodeToString(kb[:]), hex.EncodeToString(sb[:])
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		logf, _ := os.Create(filepath.Join(dir, "versitygw.log"))
		cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", data)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+access, "ROOT_SECRET_KEY="+secret)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			os.RemoveAll(dir)
			return nil, err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		endpoint := "http://" + addr
		if waitHTTP(endpoint, done) {
			os.Setenv(EnvEndpoint, endpoint)
			os.Setenv(EnvAccessKey, access)
			os.Setenv(EnvSecretKey, secret)
			return func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-done
				}
				logf.Close()
				os.RemoveAll(dir)
			}, nil
		}
		_ = cmd.Process.Kill()
		<-done
		logf.Close()
		log, _ := os.ReadFile(filepath.Join(dir, "versitygw.log"))
		lastErr = fmt.Errorf("versitygw did not answer on %s: %s", addr, strings.TrimSpace(string(log)))
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func waitHTTP(endpoint string, exited <-chan struct{}) bool {
	c := &http.Client{Timeout: time.Second}
	for i := 0; i < 100; i++ {
		select {
		case <-exited:
			return false
		default:
		}
		if resp, err := c.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
