package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
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
	// HTTPClient, when set, is used by Client (a TLS server's trust).
	HTTPClient *http.Client
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
	if os.Getenv(EnvRequireS3) == "1" || StrictSkips() {
		t.Fatal(msg + "; " + EnvRequireS3 + "=1 or CI=true makes this a failure")
	}
	t.Skip(msg)
	return S3{}
}

// Client returns an S3 client for the test server (path-style, static keys).
func (e S3) Client() *s3.Client {
	var hc s3.HTTPClient
	if e.HTTPClient != nil {
		hc = e.HTTPClient
	}
	return s3.New(s3.Options{
		HTTPClient:                 hc,
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
	srv, err := StartServer(bin, false)
	if err != nil {
		return nil, err
	}
	os.Setenv(EnvEndpoint, srv.Endpoint)
	os.Setenv(EnvAccessKey, srv.AccessKey)
	os.Setenv(EnvSecretKey, srv.SecretKey)
	return srv.Stop, nil
}

// Server is a versitygw process started by StartServer.
type Server struct {
	S3
	// CertFile is the PEM certificate (and CA) of a TLS server; point
	// SSL_CERT_FILE at it so clients trust the server.
	CertFile string
	Stop     func()
}

// StartServer starts versitygw from bin on 127.0.0.1 with a temporary posix
// backend and random root keys; with tls it serves https with a fresh
// self-signed certificate for 127.0.0.1. It does not touch the environment.
func StartServer(bin string, tls bool) (*Server, error) {
	return StartServerWith(bin, ServerOptions{TLS: tls})
}

// ServerOptions shape a versitygw server (StartServerWith).
type ServerOptions struct {
	// TLS serves https with a fresh self-signed certificate.
	TLS bool
	// Lock runs the internal IAM service and bucket versioning, so buckets
	// can have Object Lock and accounts other than root exist (versitygw
	// enforces locks only for them; objectlock.go).
	Lock bool
}

// StartServerWith is StartServer with options.
func StartServerWith(bin string, o ServerOptions) (*Server, error) {
	tls := o.TLS
	dir, err := os.MkdirTemp("", "epack-vgw-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "gw")
	if err := os.Mkdir(data, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var tlsArgs []string
	certFile := ""
	if tls {
		certFile = filepath.Join(dir, "cert.pem")
		keyFile := filepath.Join(dir, "key.pem")
		if err := writeSelfSigned(certFile, keyFile); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		tlsArgs = []string{"--cert", certFile, "--key", keyFile}
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
		args := append([]string{"--port", addr, "--quiet"}, tlsArgs...)
		backend := []string{"posix", data}
		if o.Lock {
			args = append(args, "--iam-dir", filepath.Join(dir, "iam"))
			backend = []string{"posix", "--versioning-dir", filepath.Join(dir, "versions"), data}
			os.MkdirAll(filepath.Join(dir, "iam"), 0o700)
			os.MkdirAll(filepath.Join(dir, "versions"), 0o700)
		}
		cmd := exec.Command(bin, append(args, backend...)...)
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
		if tls {
			endpoint = "https://" + addr
		}
		if waitPort(addr, done) {
			srv := &Server{
				S3:       S3{Endpoint: endpoint, AccessKey: access, SecretKey: secret, Region: "us-east-1"},
				CertFile: certFile,
				Stop: func() {
					_ = cmd.Process.Signal(syscall.SIGTERM)
					select {
					case <-done:
					case <-time.After(5 * time.Second):
						_ = cmd.Process.Kill()
						<-done
					}
					logf.Close()
					os.RemoveAll(dir)
				},
			}
			if tls {
				srv.S3.HTTPClient = srv.HTTPClient()
			}
			return srv, nil
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

// waitPort waits until addr accepts connections (or the process exits).
func waitPort(addr string, exited <-chan struct{}) bool {
	for i := 0; i < 100; i++ {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 (valid a day).
func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "epack test S3"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}

// HTTPClient returns an HTTP client that trusts the server (TLS: CertFile).
func (s *Server) HTTPClient() *http.Client {
	if s.CertFile == "" {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	if pemBytes, err := os.ReadFile(s.CertFile); err == nil {
		pool.AppendCertsFromPEM(pemBytes)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &cryptotls.Config{RootCAs: pool, MinVersion: cryptotls.VersionTLS12}}}
}
