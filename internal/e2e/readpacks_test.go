package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// TestDiffTwoReleasesOfARemote pushes two packs as v1.0.0 and v2.0.0 to a
// filesystem registry and compares the releases through the real binary:
// both are pulled into a private temporary folder that is gone afterwards.
// list and extract read the second pack back. A newer release of another
// stream shows that <remote>:latest stays in the project's stream unless
// --stream or --all-streams says otherwise.
func TestDiffTwoReleasesOfARemote(t *testing.T) {
	p := newProj(t, fsStore())
	v1 := filepath.Join(p.root, "dist", "v1.epack")
	e2e.WritePack(t, v1, "acme/prod", e2e.File{Name: "iam.json", Data: []byte(`{"users":3}`)},
		e2e.File{Name: "repos.csv", Data: []byte("web,true\n")}, e2e.File{Name: "old.md", Data: []byte("# old\n")})
	v2 := filepath.Join(p.root, "dist", "v2.epack")
	e2e.WritePack(t, v2, "acme/prod", e2e.File{Name: "iam.json", Data: []byte(`{"users":4}`)},
		e2e.File{Name: "repos.csv", Data: []byte("web,true\n")}, e2e.File{Name: "new/scan.json", Data: []byte(`{"ok":true}`)})
	first := p.runJSON(t, "push", "reg", "dist/v1.epack", "--label", "v1.0.0", "--frozen")
	second := p.runJSON(t, "push", "reg", "dist/v2.epack", "--label", "v2.0.0", "--frozen")
	other := filepath.Join(p.root, "dist", "other.epack")
	e2e.WritePack(t, other, "acme/other", e2e.File{Name: "other.json", Data: []byte(`{"s":"other"}`)})
	third := p.runJSON(t, "push", "reg", "dist/other.epack", "--label", "v2.0.0", "--frozen") // newer, another stream

	// A private TMPDIR shows that the pulled packs are removed.
	tmp := t.TempDir()
	run := func(args ...string) (string, string, int) {
		return testkit.Run(t, filepath.Join(p.bin, "epack"), p.root, []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "TMPDIR=" + tmp}, args...)
	}
	out, errOut, code := run("diff", "reg:v1.0.0", "reg:v2.0.0", "--json", "--frozen")
	if code != 0 {
		t.Fatalf("diff: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Pack1, Pack2                       map[string]any
		Added, Removed, Changed, Unchanged []string
		Summary                            map[string]int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Pack1["path"] != "reg:v1.0.0" || res.Pack2["path"] != "reg:v2.0.0" || res.Pack1["stream"] != "acme/prod" ||
		res.Pack1["release_id"] != first["release_id"] || res.Pack2["release_id"] != second["release_id"] ||
		res.Pack1["file_digest"] != e2e.FileSHA256(t, v1) || res.Pack2["file_digest"] != e2e.FileSHA256(t, v2) {
		t.Errorf("packs %v\n%v", res.Pack1, res.Pack2)
	}
	got := strings.Join([]string{strings.Join(res.Added, ","), strings.Join(res.Removed, ","), strings.Join(res.Changed, ","), strings.Join(res.Unchanged, ",")}, " | ")
	if want := "artifacts/new/scan.json | artifacts/old.md | artifacts/iam.json | artifacts/repos.csv"; got != want {
		t.Errorf("diff %s\nwant %s", got, want)
	}
	if res.Summary["added_count"] != 1 || res.Summary["removed_count"] != 1 || res.Summary["changed_count"] != 1 || res.Summary["unchanged_count"] != 1 {
		t.Errorf("summary %v", res.Summary)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A side fetched only to be compared leaves no receipt naming a file that is gone.
	if receipts, _ := filepath.Glob(filepath.Join(p.root, ".epack", "receipts", "pull", "reg", "*.json")); len(receipts) != 0 {
		t.Errorf("%d pull receipts for temporary diff sides", len(receipts))
	}

	// A local file against a release, human output, --exit-code.
	out, errOut, code = run("diff", "dist/v2.epack", "reg:latest", "--exit-code", "--frozen")
	if code != 0 || !strings.Contains(out, "same artifacts") {
		t.Errorf("local vs latest: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = run("diff", "reg:v1.0.0", "dist/v2.epack", "--exit-code", "--frozen")
	if code != 1 || !strings.Contains(out, "~ artifacts/iam.json") || !strings.Contains(out, "+ artifacts/new/scan.json") {
		t.Errorf("v1 vs local: exit %d\n%s", code, out)
	}
	if _, errOut, code := run("diff", "reg:v9.9.9", "dist/v2.epack", "--frozen"); code == 0 || !strings.Contains(errOut, "--all-streams") {
		t.Errorf("unknown version: exit %d\n%s", code, errOut)
	}
	// latest and versions in another stream only when asked for.
	for _, c := range []struct {
		args    []string
		stream  string
		release any
	}{
		{[]string{"reg:latest", "reg:v2.0.0"}, "acme/prod", second["release_id"]},
		{[]string{"reg:latest", "reg:v2.0.0", "--stream", "acme/other"}, "acme/other", third["release_id"]},
		{[]string{"reg:latest", "reg:v2.0.0", "--all-streams"}, "acme/other", third["release_id"]},
	} {
		out, errOut, code := run(append(append([]string{"diff"}, c.args...), "--json", "--frozen")...)
		var res struct{ Pack1, Pack2 map[string]any }
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
			t.Fatalf("diff %v: exit %d %v\n%s\n%s", c.args, code, err, out, errOut)
		}
		for _, side := range []map[string]any{res.Pack1, res.Pack2} {
			if side["stream"] != c.stream || side["release_id"] != c.release {
				t.Errorf("diff %v: side %v, want stream %s release %v", c.args, side, c.stream, c.release)
			}
		}
	}
	if _, errOut, code := run("diff", "reg:latest", "dist/v2.epack", "--stream", "acme/other", "--all-streams"); code != 2 {
		t.Errorf("--stream with --all-streams: exit %d\n%s", code, errOut)
	}

	list := func() []map[string]any {
		out, errOut, code := run("list", "artifacts", "dist/v2.epack", "--json")
		var arts []map[string]any
		if err := json.Unmarshal([]byte(out), &arts); code != 0 || err != nil {
			t.Fatalf("list: exit %d %v\n%s\n%s", code, err, out, errOut)
		}
		return arts
	}
	if arts := list(); len(arts) != 3 || arts[0]["path"] != "artifacts/iam.json" {
		t.Errorf("list %v", arts)
	}
	out, errOut, code = run("extract", "dist/v2.epack", "new/scan.json", "-o", "review", "--json")
	if code != 0 {
		t.Fatalf("extract: exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(p.root, "review", "artifacts", "new", "scan.json"))
	if err != nil || string(b) != `{"ok":true}` {
		t.Errorf("extracted %q %v", b, err)
	}
}
