package ocistore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// env is one fresh namespace on a real registry, with the Registry under
// test (in process) and a client that trusts the server.
type env struct {
	srv      testenv.OCI
	reg      *Registry
	cfg      Config
	ns       string
	fileRoot string
	http     *http.Client
}

// newEnv makes a registry on srv in a fresh namespace, authenticated as
// srv's user, trusting its certificate through ca_file; mut adjusts the
// configuration before New.
func newEnv(t *testing.T, srv testenv.OCI, mut func(*Config, *Options)) *env {
	t.Helper()
	e := &env{srv: srv, ns: testenv.OCINamespace(t), fileRoot: t.TempDir(), http: srv.HTTPClient()}
	e.cfg = Config{Registry: srv.Host, Namespace: e.ns, CAFile: srv.CAFile, PlainHTTP: srv.PlainHTTP}
	o := Options{Credentials: Credentials{Username: srv.Username, Password: srv.Password}, FileRoot: e.fileRoot}
	if mut != nil {
		mut(&e.cfg, &o)
	}
	reg, err := New(e.cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	return e
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var target = protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/prod"}

// push runs prepare → upload (when asked for) → finalize.
func (e *env) push(t testing.TB, tgt protocol.TargetConfig, p registrytest.Pack, ri protocol.ReleaseInfo) (*protocol.PushPrepareResponse, *protocol.PushFinalizeResponse, error) {
	t.Helper()
	ctx := ctxT(t)
	prep, err := e.reg.PushPrepare(ctx, &protocol.PushPrepareRequest{Remote: "origin", Target: tgt, Pack: p.Info(), Release: ri})
	if err != nil {
		return nil, nil, err
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := e.upload(prep.Upload, p.Data); err != nil {
			return prep, nil, fmt.Errorf("upload: %w", err)
		}
	}
	fin, err := e.reg.PushFinalize(ctx, &protocol.PushFinalizeRequest{
		Remote: "origin", Target: tgt,
		Pack:          protocol.PackInfo{Path: p.Path, Digest: p.PackDigest, SizeBytes: int64(len(p.Data))},
		FinalizeToken: prep.FinalizeToken,
	})
	return prep, fin, err
}

func (e *env) mustPush(t testing.TB, p registrytest.Pack, labels ...string) *protocol.PushFinalizeResponse {
	t.Helper()
	_, fin, err := e.push(t, target, p, protocol.ReleaseInfo{Labels: labels})
	if err != nil {
		t.Fatalf("push %s %v: %v", p.FileHex[:8], labels, err)
	}
	return fin
}

// upload does what the host does with an upload target (no headers over
// plain http).
func (e *env) upload(tgt protocol.TransferTarget, data []byte) error {
	req, err := http.NewRequest(tgt.Method, tgt.URL, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if u, _ := url.Parse(tgt.URL); u.Scheme == "https" {
		for k, v := range tgt.Headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// pull runs pull.prepare, downloads like the host and finalizes.
func (e *env) pull(t testing.TB, tgt protocol.TargetConfig, ref protocol.PullRef) (*protocol.PullPrepareResponse, []byte, error) {
	t.Helper()
	ctx := ctxT(t)
	prep, err := e.reg.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: ref})
	if err != nil {
		return nil, nil, err
	}
	data := e.download(t, prep.Download)
	if _, err := e.reg.PullFinalize(ctx, &protocol.PullFinalizeRequest{Remote: "origin", Target: tgt, Digest: prep.Pack.Digest, FinalizeToken: prep.FinalizeToken}); err != nil {
		t.Fatalf("pull.finalize: %v", err)
	}
	return prep, data, nil
}

func (e *env) download(t testing.TB, tgt protocol.TransferTarget) []byte {
	t.Helper()
	u, err := url.Parse(tgt.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "file" {
		b, err := os.ReadFile(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	req, _ := http.NewRequest(http.MethodGet, tgt.URL, nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", tgt.URL, resp.StatusCode, err)
	}
	return b
}

// tags lists the tags of a stream's repository.
func (e *env) tags(t testing.TB, tgt protocol.TargetConfig) []string {
	t.Helper()
	p, err := e.cfg.Repository(tgt)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = e.reg.c.repository(p).Tags(ctxT(t), "", func(ts []string) error {
		out = append(out, ts...)
		return nil
	})
	if err != nil && !notFound(err) {
		t.Fatal(err)
	}
	return out
}

func wantCode(t testing.TB, err error, code string, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := registry.CodeOf(err); got != code {
		t.Fatalf("code %s, want %s: %v", got, code, err)
	}
	for _, s := range substrings {
		if !bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
