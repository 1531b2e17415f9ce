package transfer

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestNewClientTransport(t *testing.T) {
	c := NewClient()
	tr := c.HTTP.Transport.(*http.Transport)
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Fatal("TLS minimum is not 1.2")
	}
	if tr.Proxy == nil || !tr.DisableCompression || tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Fatal("transport settings missing")
	}
	if c.HTTP.Timeout != 0 {
		t.Fatal("an overall timeout would cut big transfers")
	}
	if c.Retry != DefaultRetryPolicy {
		t.Fatalf("%+v", c.Retry)
	}
	// Proxies come from the environment, but never for loopback — whatever
	// proxy this machine has configured (the environment is read once per
	// process, so the test cannot and need not control it).
	req, _ := http.NewRequest("GET", "http://127.0.0.1/x", nil)
	if p, _ := tr.Proxy(req); p != nil {
		t.Fatalf("loopback proxied via %v", p)
	}
}

func TestOldTLSRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	_, err := tlsClient(srv).Download(context.Background(), getReq(srv.URL, destFile(t), 0))
	wantCode(t, err, errcode.DownloadFailed)
	if hits.Load() != 0 {
		t.Fatal("request reached a TLS 1.1 server")
	}
}

func TestUntrustedCertificateNotRetried(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	err := fastClient().Upload(context.Background(), putReq(srv.URL, []byte("x")))
	wantCode(t, err, errcode.UploadFailed)
}

func TestMissingFileRootHint(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	err := NewClient().Upload(context.Background(), fileReq(root, root+"/x", []byte("x")))
	if err == nil || errcode.HintOf(err) == "" {
		t.Fatalf("%v (hint %q)", err, errcode.HintOf(err))
	}
}

func TestZeroClientWorks(t *testing.T) {
	data := testData(1000)
	srv := newServer(t, serveData(data))
	var c Client
	f := destFile(t)
	res, err := c.Download(context.Background(), getReq(srv.URL, f, 1000))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
}
