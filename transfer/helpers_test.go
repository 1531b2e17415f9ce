package transfer

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/testkit"
)

func testData(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// fastClient retries quickly so tests do not sleep.
func fastClient() *Client {
	c := NewClient()
	c.Retry = RetryPolicy{Attempts: 4, Base: 2 * time.Millisecond, Max: 10 * time.Millisecond}
	return c
}

// tlsClient trusts srv's certificate.
func tlsClient(srv *httptest.Server) *Client {
	c := fastClient()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c.HTTP.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	return c
}

var loopback = Policy{AllowLoopbackHTTP: true}

// wantCode is the shared assertion of internal/testkit: err carries code
// as its outermost errcode, and its text mentions each given substring.
var wantCode = testkit.WantCode

// resetConn closes a hijacked connection with a TCP RST.
func resetConn(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// cutConn ends the connection after what was flushed: a graceful close (FIN)
// delivers every flushed byte before the end, so the client has seen exactly
// the bytes written — no sleep needed, unlike a reset that may discard them.
func cutConn(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

var _ = bytes.Equal
