package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/internal/testkit"
)

var binDir string

func TestMain(m *testing.M) {
	os.Exit(testenv.MainWithS3(mainRunner{m}))
}

// mainRunner builds the binaries folder around the S3 server.
type mainRunner struct{ m *testing.M }

func (r mainRunner) Run() int { return e2e.Main(r.m, &binDir) }

// store describes how a project reaches one of our registries.
type store struct {
	name string
	yaml func(t *testing.T, root string) string // the remote "reg" block
	env  []string
}

func fsStore() store {
	return store{name: "filesystem", yaml: func(t *testing.T, root string) string {
		return "  reg:\n    adapter: filesystem\n    target: {workspace: acme, environment: prod}\n    transport:\n      file_root: .epack/registry\n"
	}}
}

func s3Store(t *testing.T) store {
	s := testenv.RequireS3(t)
	return store{name: "s3", env: []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey},
		yaml: func(t *testing.T, root string) string {
			bucket := s.NewBucket(t)
			return fmt.Sprintf("  reg:\n    adapter: s3\n    target: {workspace: acme, environment: prod}\n    transport:\n      allow_loopback_http: true\n    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    extensions:\n      bucket: %s\n      endpoint: %s\n      path_style: true\n      region: us-east-1\n", bucket, s.Endpoint)
		}}
}

type proj struct {
	root, bin string
	env       []string
}

func newProj(t *testing.T, st store) *proj {
	bin := e2e.BinDir(t, binDir)
	root := e2e.Project(t, bin, "")
	y := "stream: acme/prod\nremotes:\n" + st.yaml(t, root)
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(y), 0o644)
	os.MkdirAll(filepath.Join(root, ".epack", "registry"), 0o755)
	p := &proj{root: root, bin: bin, env: st.env}
	// Adapters are found next to the epack binary (bundled) and pinned.
	if out, errOut, code := p.run(t, "lock", "reg"); code != 0 {
		t.Fatalf("epack lock: %s %s", out, errOut)
	}
	return p
}

func (p *proj) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testkit.Run(t, filepath.Join(p.bin, "epack"), p.root, append([]string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI="}, p.env...), args...)
}

func (p *proj) runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := p.run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("epack %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("epack %v: not JSON: %v\n%s", args, err, out)
	}
	return m
}

func stores(t *testing.T) []store {
	out := []store{fsStore()}
	if _, ok := testenv.LookupS3(); ok || os.Getenv(testenv.EnvRequireS3) == "1" {
		out = append(out, s3Store(t))
	}
	return out
}

func TestRoundTripThroughCLI(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) {
			p := newProj(t, st)
			pk := filepath.Join(p.root, "dist", "acme.epack")
			e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)}, e2e.File{Name: "b.csv", Data: []byte("x,y\n1,2\n")})
			run := filepath.Join(p.root, "dist", "acme.runs", "tools", "scan", "run-001", "result.json")
			os.MkdirAll(filepath.Dir(run), 0o755)
			os.WriteFile(run, []byte(`{"status":"ok"}`), 0o644)

			first := p.runJSON(t, "push", "reg", "dist/acme.epack", "--label", "v1.0.0", "--frozen")
			if first["pushed"] != true || first["upload_skipped"] == true {
				t.Fatalf("first push %v", first)
			}
			if fmt.Sprint(first["synced_runs"]) != "[run-001]" {
				t.Errorf("runs %v", first["synced_runs"])
			}
			second := p.runJSON(t, "push", "reg", "dist/acme.epack", "--label", "extra", "--frozen")
			if second["upload_skipped"] != true || second["release_id"] != first["release_id"] {
				t.Fatalf("second push should skip the upload and return the same release: %v", second)
			}
			if second["receipt_path"] == first["receipt_path"] {
				t.Fatal("receipt overwritten")
			}
			who := p.runJSON(t, "remote", "whoami", "reg")
			ids, _ := who["identities"].([]any)
			if len(ids) != 1 || ids[0].(map[string]any)["authenticated"] != true {
				t.Errorf("whoami %v", who)
			}
			want, _ := os.ReadFile(pk)
			digest := e2e.FileSHA256(t, pk)
			relID := first["release_id"].(string)
			for i, ref := range [][]string{{}, {relID}, {"--version", "v1.0.0"}, {digest}, {"--digest", digest}} {
				out := fmt.Sprintf("pulled-%d.epack", i)
				args := append([]string{"pull", "reg", "-o", out, "--frozen"}, ref...)
				res := p.runJSON(t, args...)
				got, _ := os.ReadFile(filepath.Join(p.root, out))
				if !bytes.Equal(got, want) || res["verified"] != true || res["digest"] != digest || res["release_id"] != relID {
					t.Fatalf("pull %v: %v", ref, res)
				}
				var rc map[string]any
				b, _ := os.ReadFile(res["receipt_path"].(string))
				json.Unmarshal(b, &rc)
				if rc["pack"].(map[string]any)["digest"] != digest || rc["verified"] != true {
					t.Errorf("pull receipt %v", rc)
				}
			}
		})
	}
}

func TestConcurrentPushes(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) {
			p := newProj(t, st)
			const n = 16
			for i := 0; i < n; i++ {
				e2e.WritePack(t, filepath.Join(p.root, "dist", fmt.Sprintf("p%d.epack", i)), "acme/prod",
					e2e.File{Name: "x.json", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
			}
			var wg sync.WaitGroup
			results := make([]map[string]any, n)
			errs := make([]string, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					out, errOut, code := p.run(t, "push", "reg", fmt.Sprintf("dist/p%d.epack", i), "--json", "--frozen")
					if code != 0 {
						errs[i] = errOut
						return
					}
					json.Unmarshal([]byte(out), &results[i])
				}(i)
			}
			wg.Wait()
			ids := map[string]bool{}
			for i := 0; i < n; i++ {
				if errs[i] != "" {
					t.Fatalf("push %d failed: %s", i, errs[i])
				}
				ids[results[i]["release_id"].(string)] = true
			}
			if len(ids) != n {
				t.Fatalf("%d distinct releases, want %d", len(ids), n)
			}
			receipts, _ := filepath.Glob(filepath.Join(p.root, ".epack", "receipts", "push", "reg", "*.json"))
			if len(receipts) != n {
				t.Fatalf("%d receipts, want %d", len(receipts), n)
			}
			latest := p.runJSON(t, "pull", "reg", "-o", "latest.epack", "--frozen")
			if !ids[latest["release_id"].(string)] {
				t.Fatalf("latest %v is not one of the pushed releases", latest["release_id"])
			}
			// 8 processes pushing the same pack: no error, one release.
			same := map[string]bool{}
			var mu sync.Mutex
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, errOut, code := p.run(t, "push", "reg", "dist/p0.epack", "--json", "--frozen")
					mu.Lock()
					defer mu.Unlock()
					if code != 0 {
						t.Errorf("same-pack push failed: %s", errOut)
						return
					}
					var m map[string]any
					json.Unmarshal([]byte(out), &m)
					same[m["release_id"].(string)] = true
				}()
			}
			wg.Wait()
			if len(same) != 1 || !same[results[0]["release_id"].(string)] {
				t.Fatalf("same pack gave releases %v, want only %v", same, results[0]["release_id"])
			}
			if st.name == "filesystem" {
				blobs, _ := filepath.Glob(filepath.Join(p.root, ".epack", "registry", "blobs", "sha256", "*"))
				if len(blobs) != n {
					t.Errorf("%d blobs, want %d", len(blobs), n)
				}
			}
		})
	}
}
