package pull_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pull"
	"github.com/evidencerelay/epack/transfer"
)

// Options.Transfer is the client the download uses: with a client that
// makes a single attempt, a server answering 503 once ends the pull after
// one request; the default client would retry and succeed.
func TestPullUsesTheGivenTransferClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	data, err := os.ReadFile(e.packPath)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	setExt(t, e, `,"download_url":"`+srv.URL+`/pack"`)

	client := transfer.NewClient()
	client.Retry.Attempts = 1
	o := e.opts(filepath.Join(e.root, "out.epack"))
	o.Transfer = client
	_, err = pull.Pull(context.Background(), o)
	if err == nil || !errcode.Has(err, errcode.DownloadFailed) && !errcode.Has(err, errcode.NetworkError) {
		t.Fatalf("pull with a one-attempt client: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d download requests, want 1 (the given client's single attempt)", n)
	}
	// The same server with the default client: retried, then pulled.
	o.Transfer = nil
	if _, err := pull.Pull(context.Background(), o); err != nil {
		t.Fatalf("pull with the default client: %v", err)
	}
}
