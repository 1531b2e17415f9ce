package testenv

import (
	"context"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Environment variables naming the OCI registry test server (set by
// scripts/test.sh, which starts one with internal/testenv/ociserver).
const (
	// EnvOCIHost is the registry's host:port on 127.0.0.1 (https).
	EnvOCIHost = "EPACK_TEST_OCI_HOST"
	// EnvOCIUsername and EnvOCIPassword are its htpasswd user.
	EnvOCIUsername = "EPACK_TEST_OCI_USERNAME"
	EnvOCIPassword = "EPACK_TEST_OCI_PASSWORD"
	// EnvOCICAFile is the PEM file of its self-signed certificate.
	EnvOCICAFile = "EPACK_TEST_OCI_CA_FILE"
	// EnvRequireOCI = "1" turns a missing registry (or oras CLI) into a
	// test failure, as CI=true does.
	EnvRequireOCI = "EPACK_TEST_REQUIRE_OCI"
	// EnvOCIRegistryBin overrides where the registry binary is looked for
	// (default: docker-registry, then registry, on PATH).
	EnvOCIRegistryBin = "EPACK_TEST_OCI_REGISTRY_BIN"
	// EnvOrasBin overrides where the oras CLI is looked for.
	EnvOrasBin = "EPACK_TEST_ORAS_BIN"
)

// OrasVersion is the oras CLI release the tests read packs back with
// (installed by scripts/test.sh into <cache>/bin-oras-<version>/oras).
const OrasVersion = "v1.3.6"

// OCI is a reachable OCI registry test server.
type OCI struct {
	// Host is host:port (127.0.0.1:<port>).
	Host string
	// Username and Password are the htpasswd user ("" without auth).
	Username, Password string
	// CAFile is the PEM certificate to trust ("" for plain http).
	CAFile string
	// PlainHTTP: the server speaks http, not https.
	PlainHTTP bool
}

// URL is the registry's base URL (https://host or http://host).
func (o OCI) URL() string {
	if o.PlainHTTP {
		return "http://" + o.Host
	}
	return "https://" + o.Host
}

// HTTPClient trusts the server's certificate (and nothing else).
func (o OCI) HTTPClient() *http.Client {
	if o.CAFile == "" {
		return &http.Client{}
	}
	pool := x509.NewCertPool()
	if pemBytes, err := os.ReadFile(o.CAFile); err == nil {
		pool.AppendCertsFromPEM(pemBytes)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &cryptotls.Config{RootCAs: pool, MinVersion: cryptotls.VersionTLS12}}}
}

// LookupOCI returns the OCI registry named by the environment, if any.
func LookupOCI() (OCI, bool) {
	o := OCI{
		Host:     os.Getenv(EnvOCIHost),
		Username: os.Getenv(EnvOCIUsername),
		Password: os.Getenv(EnvOCIPassword),
		CAFile:   os.Getenv(EnvOCICAFile),
	}
	return o, o.Host != ""
}

// requireOCI reports whether a missing registry or oras must fail the test.
func requireOCI() bool { return os.Getenv(EnvRequireOCI) == "1" || StrictSkips() }

// RequireOCI returns a TLS registry with htpasswd auth for the test: the one
// the environment names (shared: give each test its own namespace), or else
// a private one started from the installed registry binary and stopped when
// the test ends. Without either it skips the test — or fails it under
// EPACK_TEST_REQUIRE_OCI=1 or CI=true.
func RequireOCI(t testing.TB) OCI {
	t.Helper()
	if o, ok := LookupOCI(); ok {
		return o
	}
	if srv := StartOCIForTest(t, OCIOptions{TLS: true, Auth: true}); srv != nil {
		return srv.OCI
	}
	return OCI{}
}

// StartOCIForTest starts a private registry with the given options for t
// (stopped by t.Cleanup), skipping or failing as RequireOCI does when the
// registry binary is not installed (nil then, for a t that goes on).
func StartOCIForTest(t testing.TB, o OCIOptions) *OCIServer {
	t.Helper()
	bin, ok := OCIRegistryBinary()
	if !ok {
		msg := "no OCI registry: install Debian's docker-registry (apt-get install docker-registry; scripts/test.sh does) or set " + EnvOCIRegistryBin
		if requireOCI() {
			t.Fatal(msg + "; " + EnvRequireOCI + "=1 or CI=true makes this a failure")
		} else {
			t.Skip(msg)
		}
		return nil
	}
	srv, err := StartOCIRegistry(bin, o)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	t.Cleanup(srv.Stop)
	return srv
}

// OCIRegistryBinary finds the registry server: $EPACK_TEST_OCI_REGISTRY_BIN,
// else docker-registry (Debian's package) or registry on PATH.
func OCIRegistryBinary() (string, bool) {
	if p := os.Getenv(EnvOCIRegistryBin); p != "" {
		return p, isExecutable(p)
	}
	for _, name := range []string{"docker-registry", "registry"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "docker-registry", false
}

// OrasBinary finds the oras CLI: $EPACK_TEST_ORAS_BIN, else the cached
// <cache>/bin-oras-<OrasVersion>/oras.
func OrasBinary() (string, bool) {
	if p := os.Getenv(EnvOrasBin); p != "" {
		return p, isExecutable(p)
	}
	p := filepath.Join(CacheDir(), "bin-oras-"+OrasVersion, "oras")
	return p, isExecutable(p)
}

// RequireOras returns the oras CLI, skipping (or failing, as RequireOCI)
// when it is not installed.
func RequireOras(t testing.TB) string {
	t.Helper()
	p, ok := OrasBinary()
	if !ok {
		msg := fmt.Sprintf("oras CLI not installed at %s (scripts/test.sh installs oras %s: go install oras.land/oras/cmd/oras@%s)", p, OrasVersion, OrasVersion)
		if requireOCI() {
			t.Fatal(msg + "; " + EnvRequireOCI + "=1 or CI=true makes this a failure")
		} else {
			t.Skip(msg)
		}
	}
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// OCIOptions choose how StartOCIRegistry serves.
type OCIOptions struct {
	// TLS serves https with a fresh self-signed certificate for 127.0.0.1.
	TLS bool
	// Auth requires HTTP basic auth (htpasswd) from a random user.
	Auth bool
}

// OCIServer is a registry process started by StartOCIRegistry.
type OCIServer struct {
	OCI
	// Dir holds its configuration, certificate and storage.
	Dir string
	// Stop stops it and removes Dir.
	Stop func()
}

// StartOCIRegistry starts the registry binary (distribution 2.8) on
// 127.0.0.1 with filesystem storage in a temporary folder, deletes enabled,
// and — as asked — TLS with a self-signed certificate and htpasswd auth
// with a random user and password. It returns once the registry answers
// /v2/. It does not touch the environment.
func StartOCIRegistry(bin string, o OCIOptions) (*OCIServer, error) {
	dir, err := os.MkdirTemp("", "epack-oci-")
	if err != nil {
		return nil, err
	}
	srv := &OCIServer{Dir: dir}
	fail := func(err error) (*OCIServer, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		return fail(err)
	}
	var extra strings.Builder
	if o.TLS {
		srv.CAFile = filepath.Join(dir, "cert.pem")
		keyFile := filepath.Join(dir, "key.pem")
		if err := writeSelfSigned(srv.CAFile, keyFile); err != nil {
			return fail(err)
		}
		fmt.Fprintf(&extra, "  tls:\n    certificate: %s\n    key: %s\n", srv.CAFile, keyFile)
	} else {
		srv.PlainHTTP = true
	}
	auth := ""
	if o.Auth {
		var ub, pb [8]byte
		_, _ = rand.Read(ub[:])
		_, _ = rand.Read(pb[:])
		srv.Username, srv.Password = "u"+hex.EncodeToString(ub[:4]), hex.EncodeToString(pb[:])
		hash, err := bcrypt.GenerateFromPassword([]byte(srv.Password), bcrypt.MinCost)
		if err != nil {
			return fail(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(srv.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			return fail(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: epack-test\n    path: %s\n", htpasswd)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
%s%s`, filepath.Join(dir, "data"), addr, randomHex(16), extra.String(), auth)
		cfgFile := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			return fail(err)
		}
		logf, err := os.Create(filepath.Join(dir, "registry.log"))
		if err != nil {
			return fail(err)
		}
		cmd := exec.Command(bin, "serve", cfgFile)
		// The registry reads REGISTRY_* variables as configuration: keep
		// only what it needs from ours.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fail(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		srv.Host = addr
		if waitRegistry(srv.OCI, done) {
			srv.Stop = func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-done
				}
				logf.Close()
				os.RemoveAll(dir)
			}
			return srv, nil
		}
		_ = cmd.Process.Kill()
		<-done
		logf.Close()
		log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		lastErr = fmt.Errorf("registry did not answer on %s: %s", addr, strings.TrimSpace(string(log)))
	}
	return fail(lastErr)
}

// waitRegistry polls GET /v2/ until the registry answers (200, or 401 when
// it wants auth), or the process exits, for at most 20 seconds.
func waitRegistry(o OCI, exited <-chan struct{}) bool {
	hc := o.HTTPClient()
	hc.Timeout = 2 * time.Second
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.URL()+"/v2/", nil)
		resp, err := hc.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OCINamespace returns a fresh namespace (repository path prefix) for one
// test, so tests sharing a registry never see each other's repositories.
func OCINamespace(t testing.TB) string {
	t.Helper()
	return "t" + randomHex(5)
}
