package push_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/push"
	"github.com/evidencerelay/epack/transfer"
)

// editConfig applies edit to the project's epack.yaml.
func editConfig(t *testing.T, e *env, edit func(string) string) {
	t.Helper()
	p := filepath.Join(e.root, "epack.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := edit(string(b))
	if s == string(b) {
		t.Fatal("epack.yaml unchanged")
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addExt adds extension members (JSON without braces) to remote "t", once
// the pack they may depend on exists.
func addExt(t *testing.T, e *env, ext string) {
	t.Helper()
	state := `"state_dir":"` + e.state + `"`
	editConfig(t, e, func(s string) string { return strings.Replace(s, state, state+","+ext, 1) })
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// A nil context is context.Background; a context that has already ended
// ends the push before any adapter request, with no release and no receipt.
func TestPushContext(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		ok   bool
	}{
		{"nil", nil, true},
		{"canceled", canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", "")
			res, err := push.Push(tc.ctx, e.opts()) //nolint:staticcheck // nil is documented to mean Background
			if tc.ok {
				if err != nil || res.Release == nil {
					t.Fatalf("push: %+v, %v", res, err)
				}
				return
			}
			if !errcode.Has(err, errcode.Canceled) || res != nil {
				t.Fatalf("push with an ended context: %+v, %v (code %q), want %s", res, err, errcode.Of(err), errcode.Canceled)
			}
			if got := requestTypes(t, e); len(got) != 0 {
				t.Errorf("adapter requests %v after the context ended", got)
			}
			if r := receipts(t, e.root); len(r) != 0 {
				t.Errorf("receipts %v", r)
			}
		})
	}
}

// The remote's max_pack_bytes is the largest pack it takes: a pack of
// exactly that size is pushed, one byte more is refused before push.prepare.
func TestPushMaxPackBytesBoundary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		slack int64 // limit minus pack size
		ok    bool
	}{
		{"limit is the pack size", 0, true},
		{"limit one byte over", 1, true},
		{"limit one byte under", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", "")
			size := fileSize(t, e.packPath)
			addExt(t, e, fmt.Sprintf(`"max_pack_bytes":%d`, size+tc.slack))
			res, err := push.Push(context.Background(), e.opts())
			if tc.ok {
				if err != nil || res.SizeBytes != size {
					t.Fatalf("push of %d bytes under a limit of %d: %+v, %v", size, size+tc.slack, res, err)
				}
				return
			}
			if !errcode.Has(err, errcode.InvalidInput) || !strings.Contains(err.Error(), fmt.Sprintf("at most %d bytes", size+tc.slack)) {
				t.Fatalf("push of %d bytes under a limit of %d: %v", size, size+tc.slack, err)
			}
			if got := requestTypes(t, e); len(got) != 0 {
				t.Errorf("adapter requests %v for a pack over the limit", got)
			}
		})
	}
}

// Options.Transfer is the client the upload uses: with a client that makes
// a single attempt, a server answering 503 once fails the push after one
// request; without it (the default client) the same server gets the pack
// on the retry.
func TestPushUsesTheGivenTransferClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int // 0: Options.Transfer stays nil
		ok       bool
		requests int64
	}{
		{"one-attempt client", 1, false, 1},
		{"default client", 0, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "blob")
			var hits atomic.Int64
			srv := uploadServer(t, store, func(n int, w http.ResponseWriter, r *http.Request) bool {
				hits.Add(1)
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			})
			e := httpEnv(t, srv.URL, "")
			o := e.opts()
			if tc.attempts > 0 {
				c := transfer.NewClient()
				c.Retry.Attempts = tc.attempts
				o.Transfer = c
			}
			res, err := push.Push(context.Background(), o)
			if tc.ok != (err == nil) {
				t.Fatalf("push: %+v, %v", res, err)
			}
			if !tc.ok && !strings.Contains(fmt.Sprint(err), "status 503") {
				t.Errorf("err = %v, want the 503 of the single attempt", err)
			}
			if n := hits.Load(); n != tc.requests {
				t.Errorf("%d upload requests, want %d", n, tc.requests)
			}
			if got := requestTypes(t, e); slices.Contains(got, "push.finalize") != tc.ok {
				t.Errorf("adapter requests %v", got)
			}
		})
	}
}

// Run results that are found but cannot be sent are failed runs named by
// their folder when the file could not be read (a symbolic link, a file
// over the limit) and by their path when no run id can be had from them; the
// others are synced.
func TestPushFailedRunNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	writeRun(t, e.packPath, "runs/ok/result.json", `{}`)
	badID := writeRun(t, e.packPath, "runs/bad id/result.json", `{}`)
	writeRun(t, e.packPath, "runs/big/result.json", strings.Repeat(" ", push.MaxRunResultBytes+1))
	link := filepath.Join(pack.SidecarPath(e.packPath), "runs", "ln", "result.json")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(badID, link); err != nil {
		t.Fatal(err)
	}
	res, err := push.Push(context.Background(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.SyncedRuns) != "[ok]" {
		t.Errorf("synced %v, want [ok]", res.SyncedRuns)
	}
	failed := slices.Clone(res.FailedRuns)
	slices.Sort(failed)
	want := []string{"big", "ln", badID}
	slices.Sort(want)
	if !slices.Equal(failed, want) {
		t.Errorf("failed runs %q, want %q", failed, want)
	}
	reasons := map[string]string{}
	for _, f := range res.FailedOutputs {
		reasons[f.Path] = f.Reason
	}
	if reasons[link] != "result file is a symbolic link" || reasons[badID] != "no usable run id" || !strings.Contains(reasons[filepath.Join(filepath.Dir(filepath.Dir(link)), "big", "result.json")], "larger than 1 MiB") {
		t.Errorf("failed outputs %+v", res.FailedOutputs)
	}
	if res.RunsError == nil || !strings.Contains(res.RunsError.Error(), "3 run(s) were not accepted") {
		t.Errorf("runs error %v", res.RunsError)
	}
}

// useScriptAdapter points remote "t" at a shell adapter that uploads into the
// registry folder and answers push.finalize with finalizeBody (the members
// after "request_id").
func useScriptAdapter(t *testing.T, e *env, finalizeBody string) {
	t.Helper()
	script := `#!/bin/sh
if [ "$1" = "--capabilities" ]; then
  printf '%s' '{"name":"script","kind":"remote_adapter","deploy_protocol_version":1,"features":{"prepare_finalize":true}}'
  exit 0
fi
REQ=$(cat)
ID=$(printf '%s' "$REQ" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
case "$1" in
push.prepare)
  printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT","url":"file://%s/blob.epack"},"finalize_token":"tok"}' "$ID" "$EPACK_REMOTE_FILE_ROOT" ;;
push.finalize)
  printf '{"ok":true,"type":"push.finalize.result","request_id":"%s",%s}' "$ID" '` + finalizeBody + `' ;;
*)
  printf '{"ok":false,"type":"error","request_id":"%s","error":{"code":"unsupported_protocol","message":"no"}}' "$ID" ;;
esac
`
	p := filepath.Join(t.TempDir(), "epack-remote-script")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	editConfig(t, e, func(s string) string {
		i := strings.Index(s, "binary: ")
		j := strings.Index(s[i:], "\n")
		return s[:i] + "binary: " + p + s[i+j:]
	})
}

// Result.Links holds the links the remote returned, and is nil (like the
// receipt's "links") when it returned none, also as an empty object.
func TestPushLinksOnlyWhenReturned(t *testing.T) {
	t.Parallel()
	const release = `"release":{"release_id":"rel_9","pack_digest":"sha256:00","created_at":"2026-01-02T03:04:05Z","canonical_ref":"acme/evidence@rel_9"}`
	for _, tc := range []struct {
		name, body string
		want       map[string]string
	}{
		{"links", release + `,"links":{"view":"https://registry.example/rel_9"}`, map[string]string{"view": "https://registry.example/rel_9"}},
		{"empty links", release + `,"links":{}`, nil},
		{"no links", release, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", "")
			useScriptAdapter(t, e, tc.body)
			res, err := push.Push(context.Background(), e.opts())
			if err != nil {
				t.Fatal(err)
			}
			if res.Release == nil || res.Release.ReleaseID != "rel_9" {
				t.Fatalf("release %+v", res.Release)
			}
			if (res.Links == nil) != (tc.want == nil) || fmt.Sprint(res.Links) != fmt.Sprint(tc.want) {
				t.Errorf("links %#v, want %#v", res.Links, tc.want)
			}
			b, err := os.ReadFile(res.ReceiptPath)
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(b), `"links"`); has != (tc.want != nil) {
				t.Errorf("receipt has links=%v:\n%s", has, b)
			}
			if e2e.FileSHA256(t, filepath.Join(e.registry, "blob.epack")) != res.FileDigest {
				t.Error("the registry does not hold the pack")
			}
		})
	}
}

// Run results go out in batches of at most max_runs_per_sync, one runs.sync
// per batch and none when there is nothing to send. A failed call fails its
// runs with the adapter's error (code kept), not as runs "not accepted".
func TestRunSyncBatchesAndErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		ext       string
		runs      int
		batches   []int // runs per runs.sync request
		synced    int
		failed    int
		errCode   errcode.Code
		errPrefix string
	}{
		{name: "no results", ext: `"max_runs_per_sync":2`, batches: nil},
		{name: "one full batch", ext: `"max_runs_per_sync":2`, runs: 2, batches: []int{2}, synced: 2},
		{name: "full and partial batch", ext: `"max_runs_per_sync":2`, runs: 3, batches: []int{2, 1}, synced: 3},
		{name: "default batch size", ext: `"max_runs_per_sync":0`, runs: 3, batches: []int{3}, synced: 3},
		{name: "refused call", ext: `"runs_error":"forbidden"`, runs: 2, batches: []int{2}, failed: 2,
			errCode: errcode.RemoteForbidden, errPrefix: "runs.sync failed: "},
		{name: "rejected run", ext: `"runs_reject":["r0"]`, runs: 2, batches: []int{2}, synced: 1, failed: 1,
			errPrefix: "1 run(s) were not accepted: [r0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.ext, "")
			for i := 0; i < tc.runs; i++ {
				writeRun(t, e.packPath, fmt.Sprintf("runs/r%d/result.json", i), `{}`)
			}
			res, err := push.Push(context.Background(), e.opts())
			if err != nil {
				t.Fatal(err)
			}
			var batches []int
			for _, r := range e2e.ReadLog(t, e.state) {
				if r["type"] == "runs.sync" {
					runs, _ := r["runs"].([]any)
					batches = append(batches, len(runs))
				}
			}
			if fmt.Sprint(batches) != fmt.Sprint(tc.batches) {
				t.Errorf("runs.sync batches %v, want %v", batches, tc.batches)
			}
			if len(res.SyncedRuns) != tc.synced || len(res.FailedRuns) != tc.failed {
				t.Errorf("synced %v, failed %v", res.SyncedRuns, res.FailedRuns)
			}
			switch {
			case tc.errPrefix == "":
				if res.RunsError != nil {
					t.Errorf("runs error %v", res.RunsError)
				}
			case res.RunsError == nil || !strings.HasPrefix(res.RunsError.Error(), tc.errPrefix):
				t.Errorf("runs error %v, want it to start with %q", res.RunsError, tc.errPrefix)
			case tc.errCode != "" && !errcode.Has(res.RunsError, tc.errCode):
				t.Errorf("runs error %v has code %q, want %s", res.RunsError, errcode.Of(res.RunsError), tc.errCode)
			}
		})
	}
}
