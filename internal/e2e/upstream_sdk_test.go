package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// These tests run the real epack binary against internal/testadapters/upstreamsdk,
// an adapter that writes byte for byte what adapters built with the existing
// tool's Go SDK write (COMPAT §10.1).

// upstreamSDKBinary builds the adapter once into the shared binaries folder.
func upstreamSDKBinary(t *testing.T) string {
	t.Helper()
	e2e.BinDir(t, binDir)
	return filepath.Join(testkit.Binaries(t, "./internal/testadapters/upstreamsdk"), "upstreamsdk")
}

// upsdkProject is a project whose remote "up" runs a copy of the adapter
// with the given settings (see the adapter's doc), pinned with epack lock.
type upsdkProject struct {
	*proj
	store string
}

func newUpstreamSDKProject(t *testing.T, settings string) *upsdkProject {
	t.Helper()
	src := upstreamSDKBinary(t)
	bin := e2e.BinDir(t, binDir)
	root := e2e.Project(t, bin, "")
	adapters := filepath.Join(root, "adapters")
	store := filepath.Join(root, "store")
	for _, d := range []string{adapters, store} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(adapters, "epack-remote-upsdk")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if settings != "" {
		if err := os.WriteFile(exe+".json", []byte(settings), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  up:\n    binary: %s\n    target: {workspace: acme, environment: prod}\n    secrets: [UPSDK_STORE]\n    transport:\n      file_root: %s\n", exe, store)
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &upsdkProject{proj: &proj{root: root, bin: bin, env: []string{"UPSDK_STORE=" + store}}, store: store}
	if out, errOut, code := p.run(t, "lock", "up"); code != 0 {
		t.Fatalf("epack lock: %s %s", out, errOut)
	}
	e2e.WritePack(t, filepath.Join(root, "dist", "acme.epack"), "acme/evidence",
		e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)}, e2e.File{Name: "b.csv", Data: []byte("x,y\n1,2\n")})
	return p
}

// requestTypes lists the "type" of every request the adapter received.
func (p *upsdkProject) requestTypes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.store, "requests.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct{ Type string }
		if line != "" && json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m.Type)
		}
	}
	return out
}

func (p *upsdkProject) writeRuns(t *testing.T) {
	t.Helper()
	for _, id := range []string{"run-001", "run-002"} {
		f := filepath.Join(p.root, "dist", "acme.runs", "tools", "scan", id, "result.json")
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(`{"status":"ok"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readReceipt(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Push, pull and whoami through the CLI, for an SDK adapter that announces
// only what the SDK implements and for one that also announces runs_sync and
// whoami (which the SDK answers with unsupported_protocol).
func TestUpstreamSDKAdapterThroughCLI(t *testing.T) {
	for _, tc := range []struct {
		name, settings string
		skippedBy      string // the reason push records for skipping run sync
		wantTypes      string // requests the adapter saw during the push
	}{
		{name: "sdk features only", settings: "",
			skippedBy: "do not announce runs_sync", wantTypes: "push.prepare push.finalize"},
		{name: "announces runs_sync and whoami", settings: `{"features":{"prepare_finalize":true,"pull":true,"runs_sync":true,"whoami":true}}`,
			skippedBy: "unsupported_protocol", wantTypes: "push.prepare push.finalize runs.sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newUpstreamSDKProject(t, tc.settings)
			p.writeRuns(t)
			pk := filepath.Join(p.root, "dist", "acme.epack")

			// push: exit 0, a release, run sync skipped and said so.
			out, errOut, code := p.run(t, "push", "up", "dist/acme.epack", "--frozen", "--json")
			if code != 0 {
				t.Fatalf("push: exit %d\n%s\n%s", code, out, errOut)
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("push output %q: %v", out, err)
			}
			relID, _ := res["release_id"].(string)
			if res["pushed"] != true || !strings.HasPrefix(relID, "rel-") || fmt.Sprint(res["failed_runs"]) != "[]" {
				t.Fatalf("push result %v", res)
			}
			if !strings.Contains(errOut, "run sync skipped") || strings.Contains(errOut, "run sync failed") {
				t.Errorf("stderr does not say run sync was skipped:\n%s", errOut)
			}
			if got := strings.Join(p.requestTypes(t), " "); got != tc.wantTypes {
				t.Errorf("adapter saw %q, want %q", got, tc.wantTypes)
			}
			rc := readReceipt(t, res["receipt_path"].(string))
			runs, _ := rc["runs"].(map[string]any)
			if s, _ := runs["skipped"].(string); !strings.Contains(s, tc.skippedBy) || runs["failed"] != nil || runs["error"] != nil {
				t.Errorf("receipt runs %v", runs)
			}
			if rel := rc["release"].(map[string]any); rel["release_id"] != relID || rel["created_at"] != "0001-01-01T00:00:00Z" {
				t.Errorf("receipt release %v (created_at \"\" must be kept as the zero time)", rel)
			}
			if links := rc["links"].(map[string]any); links["release"] == nil || links["pack"] == nil {
				t.Errorf("receipt links %v", links)
			}

			// pull: latest and by release id, bytes identical.
			want, _ := os.ReadFile(pk)
			for i, ref := range [][]string{{}, {"--release", relID}, {"--digest", e2e.FileSHA256(t, pk)}} {
				outFile := fmt.Sprintf("pulled-%d.epack", i)
				res := p.runJSON(t, append([]string{"pull", "up", "-o", outFile, "--frozen"}, ref...)...)
				got, _ := os.ReadFile(filepath.Join(p.root, outFile))
				if !bytes.Equal(got, want) || res["verified"] != true || res["release_id"] != relID {
					t.Fatalf("pull %v: %v", ref, res)
				}
			}

			// whoami: not supported, not an error.
			who := p.runJSON(t, "remote", "whoami", "up", "--frozen")
			ids, _ := who["identities"].([]any)
			if len(ids) != 1 {
				t.Fatalf("whoami %v", who)
			}
			id := ids[0].(map[string]any)
			if id["supported"] != false || id["error"] != "adapter does not support whoami" || id["authenticated"] != false {
				t.Errorf("whoami %v", id)
			}
			out, errOut, code = p.run(t, "remote", "whoami", "up", "--frozen")
			if code != 0 || !strings.Contains(out, "? up: whoami not supported by adapter") {
				t.Errorf("human whoami: exit %d\n%s\n%s", code, out, errOut)
			}

			// The human push output says it too.
			_, errOut, code = p.run(t, "push", "up", "dist/acme.epack", "--frozen")
			if code != 0 || !strings.Contains(errOut, "Run sync skipped: adapter does not support it") {
				t.Errorf("human push: exit %d\n%s", code, errOut)
			}
		})
	}
}

// The SDK's other shapes through the CLI: limits.max_pack_size is enforced
// before anything is uploaded, an error with a string action reaches the
// user as a hint, and an answer with a wrong type, request id or a missing
// field is still refused as a protocol mismatch.
func TestUpstreamSDKAdapterRefusalsThroughCLI(t *testing.T) {
	for _, tc := range []struct {
		name, settings string
		code, msg      string
		hint           string
		wantTypes      string
	}{
		{name: "max_pack_size", settings: `{"max_pack_size":100}`, code: "invalid_input", msg: "accepts at most 100 bytes", wantTypes: ""},
		{name: "error with string action", settings: `{"prepare_error":{"code":"auth_required","message":"log in to upsdk first","action":"upsdk login"}}`,
			code: "auth_required", msg: "log in to upsdk first", hint: "upsdk login", wantTypes: "push.prepare"},
		{name: "wrong type", settings: `{"mangle":"type"}`, code: "protocol_mismatch", msg: `type "pull.prepare"`, wantTypes: "push.prepare"},
		{name: "wrong request id", settings: `{"mangle":"request_id"}`, code: "protocol_mismatch", msg: "does not match", wantTypes: "push.prepare"},
		{name: "missing finalize_token", settings: `{"mangle":"finalize_token"}`, code: "protocol_mismatch", msg: "finalize_token is missing", wantTypes: "push.prepare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newUpstreamSDKProject(t, tc.settings)
			out, errOut, code := p.run(t, "push", "up", "dist/acme.epack", "--frozen", "--json")
			if code == 0 {
				t.Fatalf("push succeeded:\n%s", out)
			}
			var res struct {
				OK    bool
				Error struct{ Code, Message, Hint string }
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("push output %q: %v\n%s", out, err, errOut)
			}
			if res.Error.Code != tc.code || !strings.Contains(res.Error.Message, tc.msg) || !strings.Contains(res.Error.Hint, tc.hint) {
				t.Errorf("error %+v, want code %s with %q and hint %q", res.Error, tc.code, tc.msg, tc.hint)
			}
			if got := strings.Join(p.requestTypes(t), " "); got != tc.wantTypes {
				t.Errorf("adapter saw %q, want %q", got, tc.wantTypes)
			}
			if rel, _ := filepath.Glob(filepath.Join(p.store, "releases", "*")); len(rel) != 0 {
				t.Errorf("a release was created: %v", rel)
			}
		})
	}
}
