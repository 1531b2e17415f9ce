package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
)

// lockedS3Store is the remote "reg" on a bucket with Object Lock and
// extensions.object_lock {mode: COMPLIANCE, retain: 1h}, as the lock
// server's user (which versitygw holds to the lock).
func lockedS3Store(t *testing.T) store {
	l := testenv.RequireLockServer(t)
	return store{name: "s3-locked", env: []string{"AWS_ACCESS_KEY_ID=" + l.User.AccessKey, "AWS_SECRET_ACCESS_KEY=" + l.User.SecretKey},
		yaml: func(t *testing.T, root string) string {
			bucket := l.NewLockBucket(t, true)
			return fmt.Sprintf("  reg:\n    adapter: s3\n    target: {workspace: acme, environment: prod}\n    transport:\n      allow_loopback_http: true\n    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    extensions:\n      bucket: %s\n      endpoint: %s\n      path_style: true\n      region: us-east-1\n      object_lock: {mode: COMPLIANCE, retain: 1h}\n", bucket, l.Endpoint)
		}}
}

// retentionOf reads the "retention" member of a --json answer (nil when absent).
func retentionOf(t *testing.T, what string, v any) (until time.Time, mode string, ok bool) {
	t.Helper()
	m, _ := v.(map[string]any)
	if m == nil {
		return time.Time{}, "", false
	}
	mode, _ = m["mode"].(string)
	s, _ := m["retain_until"].(string)
	until, err := time.Parse(time.RFC3339, s)
	if err != nil || mode == "" {
		t.Fatalf("%s: retention %v", what, v)
	}
	return until, mode, true
}

// TestRetentionThroughCLI: through the real CLI and adapters, push, pull,
// releases and inspect of a pulled pack show the release's retention on
// an S3 registry with Object Lock — about an hour from the push by default,
// what --retain asked for otherwise — in the human output, --json and the
// receipts; on a filesystem registry none of them shows one. inspect of a
// pack no pull receipt names shows none either.
func TestRetentionThroughCLI(t *testing.T) {
	for _, st := range []store{fsStore(), lockedS3Store(t)} {
		t.Run(st.name, func(t *testing.T) {
			locked := st.name == "s3-locked"
			p := newProj(t, st)
			pk := filepath.Join(p.root, "dist", "acme.epack")
			e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
			near := func(what string, v any, want time.Time) {
				t.Helper()
				until, mode, ok := retentionOf(t, what, v)
				if !locked {
					if ok {
						t.Fatalf("%s: retention %v on a filesystem registry", what, v)
					}
					return
				}
				if !ok || mode != "COMPLIANCE" || until.Sub(want).Abs() > time.Minute {
					t.Fatalf("%s: retention %v, want COMPLIANCE until about %s", what, v, want.Format(time.RFC3339))
				}
			}
			hour := time.Now().Add(time.Hour)

			// push: human line, --json, receipt.
			out, errOut, code := p.run(t, "push", "reg", "dist/acme.epack", "--label", "v1.0.0", "--frozen")
			if code != 0 {
				t.Fatalf("push: %s %s", out, errOut)
			}
			if strings.Contains(out, "Retained until") != locked {
				t.Fatalf("push output (locked %v):\n%s", locked, out)
			}
			if locked && !strings.Contains(out, "(COMPLIANCE)") {
				t.Fatalf("push output names no mode:\n%s", out)
			}
			pushed := readReceipts(t, filepath.Join(p.root, ".epack", "receipts", "push"))
			if len(pushed) != 1 {
				t.Fatalf("%d push receipts", len(pushed))
			}
			near("push receipt", pushed[0]["retention"], hour)

			second := filepath.Join(p.root, "dist", "second.epack")
			e2e.WritePack(t, second, "acme/prod", e2e.File{Name: "b.json", Data: []byte(`{"b":2}`)})
			args := []string{"push", "reg", "dist/second.epack", "--label", "v2.0.0", "--frozen"}
			want2 := hour
			if locked {
				args = append(args, "--retain", "30d")
				want2 = time.Now().Add(30 * 24 * time.Hour)
			}
			res := p.runJSON(t, args...)
			near("push --json", res["retention"], want2)
			id2, _ := res["release_id"].(string)

			// releases: a RETAINED UNTIL column and retention in --json.
			l := p.releases(t)
			if len(l.Releases) != 2 {
				t.Fatalf("releases: %+v", l)
			}
			for _, r := range l.Releases {
				want := hour
				if r["release_id"] == id2 {
					want = want2
				}
				near("releases --json "+fmt.Sprint(r["release_id"]), r["retention"], want)
			}
			out, errOut, code = p.run(t, "releases", "reg", "--frozen")
			if code != 0 {
				t.Fatalf("releases: %s %s", out, errOut)
			}
			if strings.Contains(out, "RETAINED UNTIL") != locked || locked && strings.Count(out, "(COMPLIANCE)") != 2 {
				t.Fatalf("releases output (locked %v):\n%s", locked, out)
			}

			// pull: human line, --json, receipt; then inspect the pulled pack.
			out, errOut, code = p.run(t, "pull", "reg", "--version", "v1.0.0", "-o", "pulled.epack", "--frozen")
			if code != 0 {
				t.Fatalf("pull: %s %s", out, errOut)
			}
			if strings.Contains(out, "Retained until") != locked {
				t.Fatalf("pull output (locked %v):\n%s", locked, out)
			}
			res = p.runJSON(t, "pull", "reg", "--release", id2, "-o", "pulled2.epack", "--frozen")
			near("pull --json", res["retention"], want2)
			pulled := readReceipts(t, filepath.Join(p.root, ".epack", "receipts", "pull"))
			if len(pulled) != 2 {
				t.Fatalf("%d pull receipts", len(pulled))
			}
			for _, rc := range pulled {
				pack, _ := rc["pack"].(map[string]any)
				want := hour
				if pack["release_id"] == id2 {
					want = want2
				}
				near("pull receipt", rc["retention"], want)
			}

			out, errOut, code = p.run(t, "inspect", "pulled.epack")
			if code != 0 {
				t.Fatalf("inspect: %s %s", out, errOut)
			}
			if strings.Contains(out, "Retention:") != locked || locked && !strings.Contains(out, "from the pull receipt .epack/receipts/pull/") {
				t.Fatalf("inspect output (locked %v):\n%s", locked, out)
			}
			ins := p.runJSON(t, "inspect", "pulled2.epack")
			near("inspect --json", ins["retention"], want2)
			// The pushed pack has no pull receipt (another path): nothing.
			ins = p.runJSON(t, "inspect", "dist/acme.epack")
			if _, ok := ins["retention"]; ok {
				t.Fatalf("inspect of a pack no pull receipt names: %v", ins["retention"])
			}
			out, _, _ = p.run(t, "inspect", "dist/acme.epack")
			if strings.Contains(out, "Retention:") {
				t.Fatalf("inspect of a pack no pull receipt names:\n%s", out)
			}
			// A file at the receipt's path with other bytes is not the pack it names.
			if err := os.Rename(filepath.Join(p.root, "pulled2.epack"), filepath.Join(p.root, "pulled.epack")); err != nil {
				t.Fatal(err)
			}
			if ins := p.runJSON(t, "inspect", "pulled.epack"); ins["retention"] != nil {
				t.Fatalf("inspect of other bytes at a receipt's path: %v", ins["retention"])
			}
		})
	}
}

// readReceipts reads every receipt below dir (one folder per remote).
func readReceipts(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}
