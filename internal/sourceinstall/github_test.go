package sourceinstall

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

func tlsServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *GitHub) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv, &GitHub{BaseURL: srv.URL, HTTP: srv.Client(), Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
}

func TestGitHubRetriesServerErrors(t *testing.T) {
	var n atomic.Int32
	_, gh := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, `{"message":"bad gateway"}`, http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`[]`))
	})
	rels, err := gh.ListReleases(context.Background(), "o", "r")
	if err != nil || len(rels) != 0 || n.Load() != 3 {
		t.Fatalf("rels %v err %v after %d requests", rels, err, n.Load())
	}
}

func TestGitHubNotFoundIsFinal(t *testing.T) {
	var n atomic.Int32
	_, gh := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	})
	_, err := gh.ReleaseByTag(context.Background(), "o", "r", "v1.0.0")
	wantCode(t, err, errcode.RemoteNotFound, "404", "Not Found")
	if !IsNotFound(err) || n.Load() != 1 {
		t.Errorf("IsNotFound %v, %d requests", IsNotFound(err), n.Load())
	}
}

func TestGitHubForbiddenWithoutRateLimit(t *testing.T) {
	_, gh := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "4999")
		http.Error(w, `{"message":"Resource not accessible by integration"}`, http.StatusForbidden)
	})
	_, err := gh.ListReleases(context.Background(), "o", "r")
	wantCode(t, err, errcode.RemoteForbidden, "Resource not accessible")
}

func TestGitHubDownloadLimits(t *testing.T) {
	srv, gh := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2048))
		case "/redirect":
			http.Redirect(w, r, "http://"+r.Host+"/big", http.StatusFound)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	})
	var buf bytes.Buffer
	_, _, err := gh.Download(context.Background(), &Asset{Name: "big", URL: srv.URL + "/big"}, &buf, 1024)
	wantCode(t, err, errcode.ArtifactTooLarge)
	_, _, err = gh.Download(context.Background(), &Asset{Name: "r", URL: srv.URL + "/redirect"}, &buf, 0)
	wantCode(t, err, errcode.URLNotAllowed, "non-https")
	d, n, err := gh.Download(context.Background(), &Asset{Name: "ok", URL: srv.URL + "/ok"}, &buf, 0)
	if err != nil || n != 2 || d != sha([]byte("ok")) {
		t.Fatalf("%s %d %v", d, n, err)
	}
}

func TestGitHubAPIResponseBounded(t *testing.T) {
	_, gh := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("[" + strings.Repeat(`{"tag_name":"v1.0.0"},`, maxAPIBytes/20) + `{}]`))
	})
	_, err := gh.ListReleases(context.Background(), "o", "r")
	wantCode(t, err, errcode.NetworkError, "larger than")
}
