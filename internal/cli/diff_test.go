package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pull"
)

func TestDiffFlags(t *testing.T) {
	clearEnv(t)
	_, got, err := parseWith(t, newCmdDiff, "diff", "a.epack", "reg:v1", "--exit-code", "--frozen", "--env", "prod", "-y")
	if err != nil {
		t.Fatal(err)
	}
	o := got.(*diffOptions)
	if o.A != "a.epack" || o.B != "reg:v1" || !o.ExitCode || !o.Frozen || o.Env != "prod" || !o.Yes || o.AllowUnpinned {
		t.Errorf("parsed %+v", o)
	}
	if _, got, err := parseWith(t, newCmdDiff, "diff", "a", "reg:latest", "--stream", "acme/other"); err != nil || got.(*diffOptions).Stream != "acme/other" {
		t.Errorf("--stream: %v %+v", err, got)
	}
	if _, got, err := parseWith(t, newCmdDiff, "diff", "a", "reg:latest", "--all-streams"); err != nil || !got.(*diffOptions).AllStreams {
		t.Errorf("--all-streams: %v %+v", err, got)
	}
	for _, args := range [][]string{{"diff", "a"}, {"diff", "a", "b", "c"}, {"diff", "a", "b", "--env", ""},
		{"diff", "a", "b", "--stream", ""}, {"diff", "a", "b", "--stream", "s", "--all-streams"}} {
		if _, got, err := parseWith(t, newCmdDiff, args...); got != nil || !errcode.Has(err, errcode.InvalidInput) {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
}

// TestParseDiffSide: an existing path is a file, even with ':' in it;
// <remote>:<ref> otherwise, when the remote name is valid.
func TestParseDiffSide(t *testing.T) {
	dir := realTempDir(t)
	t.Chdir(dir)
	os.WriteFile("reg:v1.0.0", []byte("x"), 0o644)
	digest := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		spec, file, remote string
		ref                pull.Ref
		code               errcode.Code
	}{
		{spec: "reg:v1.0.0", file: "reg:v1.0.0"},
		{spec: "dist/a.epack", file: "dist/a.epack"},
		{spec: "./reg:v2", file: "./reg:v2"},
		{spec: "Reg:v2", file: "Reg:v2"},
		{spec: "reg:v2.0.0", remote: "reg", ref: pull.Ref{Version: "v2.0.0"}},
		{spec: "reg:latest", remote: "reg", ref: pull.Ref{Latest: true}},
		{spec: "origin:rel_01JD2W3K9Q", remote: "origin", ref: pull.Ref{ReleaseID: "rel_01JD2W3K9Q"}},
		{spec: "my-reg.eu:" + digest, remote: "my-reg.eu", ref: pull.Ref{Digest: digest}},
		{spec: "reg:", code: errcode.InvalidInput},
		// A registry URL, the ref split off from the right.
		{spec: "file:///srv/reg?workspace=acme&environment=prod:v1.0.0", remote: "file:///srv/reg?workspace=acme&environment=prod", ref: pull.Ref{Version: "v1.0.0"}},
		{spec: "file:///srv/reg:latest", remote: "file:///srv/reg", ref: pull.Ref{Latest: true}},
		{spec: "s3://bucket/p?region=eu-west-1:rel_01JD2W3K9Q", remote: "s3://bucket/p?region=eu-west-1", ref: pull.Ref{ReleaseID: "rel_01JD2W3K9Q"}},
		{spec: "oci://ghcr.io/acme/ev:" + digest, remote: "oci://ghcr.io/acme/ev", ref: pull.Ref{Digest: digest}},
		{spec: "file:///srv/reg", code: errcode.InvalidInput},
		{spec: "file:///srv/reg:", code: errcode.InvalidInput},
		{spec: "file:///srv/v1:x/y", code: errcode.InvalidInput},
	}
	for _, c := range cases {
		s, err := parseDiffSide(c.spec)
		if c.code != "" {
			if !errcode.Has(err, c.code) {
				t.Errorf("%q: %v, want %s", c.spec, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if s.file != c.file || s.remote != c.remote || (c.remote != "" && diffRef(s.ref) != c.ref) {
			t.Errorf("%q: file %q remote %q ref %+v", c.spec, s.file, s.remote, diffRef(s.ref))
		}
	}
}

func TestDiffArtifacts(t *testing.T) {
	art := func(p, d string) pack.Artifact { return pack.Artifact{Path: p, Digest: d} }
	d := diffArtifacts(
		[]pack.Artifact{art("artifacts/z", "1"), art("artifacts/b", "2"), art("artifacts/gone", "3"), art("artifacts/B", "4")},
		[]pack.Artifact{art("artifacts/new", "5"), art("artifacts/b", "9"), art("artifacts/z", "1"), art("artifacts/B", "4"), art("artifacts/A", "6")})
	got := strings.Join([]string{strings.Join(d.Added, ","), strings.Join(d.Removed, ","), strings.Join(d.Changed, ","), strings.Join(d.Unchanged, ",")}, " | ")
	if want := "artifacts/A,artifacts/new | artifacts/gone | artifacts/b | artifacts/B,artifacts/z"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	e := diffArtifacts(nil, nil)
	if e.Added == nil || e.Removed == nil || e.Changed == nil || e.Unchanged == nil || !e.identical() {
		t.Errorf("empty diff %+v", e)
	}
}

func TestDiffLocal(t *testing.T) {
	dir := realTempDir(t)
	t.Chdir(dir) // no epack.yaml here or above: remote sides cannot resolve
	old := filepath.Join(dir, "old.epack")
	e2e.WritePack(t, old, "acme/v1", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)},
		e2e.File{Name: "b.json", Data: []byte(`{"b":1}`)}, e2e.File{Name: "same.csv", Data: []byte("x\n")})
	cur := filepath.Join(dir, "new.epack")
	e2e.WritePack(t, cur, "acme/v2", e2e.File{Name: "b.json", Data: []byte(`{"b":2}`)},
		e2e.File{Name: "c.json", Data: []byte(`{"c":1}`)}, e2e.File{Name: "same.csv", Data: []byte("x\n")})
	colon := filepath.Join(dir, "reg:v1.0.0")
	e2e.WritePack(t, colon, "acme/v1", e2e.File{Name: "same.csv", Data: []byte("x\n")})
	tampered := filepath.Join(dir, "tampered.epack")
	e2e.WritePack(t, tampered, "acme/v1", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	tamperEntry(t, tampered, "artifacts/a.json")

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		err    string
		check  func(t *testing.T, stdout string)
	}{
		{name: "human", args: []string{"diff", old, cur}, stdout: []string{
			"a: " + old, "b: " + cur, "stream acme/v1", "+ artifacts/c.json", "- artifacts/a.json", "~ artifacts/b.json",
			"Summary: 1 added, 1 removed, 1 changed, 1 unchanged"}},
		{name: "verbose lists unchanged", args: []string{"diff", old, cur, "-v"}, stdout: []string{"= artifacts/same.csv"}},
		{name: "differ, --exit-code", args: []string{"diff", old, cur, "--exit-code"}, code: 1, stdout: []string{"~ artifacts/b.json"}},
		{name: "same, --exit-code", args: []string{"diff", old, old, "--exit-code"}, stdout: []string{"same artifacts", "0 added, 0 removed, 0 changed, 3 unchanged"}},
		{name: "json", args: []string{"diff", old, cur, "--json"}, check: func(t *testing.T, out string) {
			var res struct {
				Pack1, Pack2                       map[string]any
				Added, Removed, Changed, Unchanged []string
				Summary                            map[string]int
				Identical                          *bool
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			p, _ := pack.Open(old)
			defer p.Close()
			if res.Pack1["path"] != old || res.Pack1["stream"] != "acme/v1" || res.Pack1["pack_digest"] != p.Manifest().PackDigest ||
				res.Pack2["path"] != cur || res.Pack2["stream"] != "acme/v2" {
				t.Errorf("packs %v %v", res.Pack1, res.Pack2)
			}
			if strings.Join(res.Added, ",") != "artifacts/c.json" || strings.Join(res.Removed, ",") != "artifacts/a.json" ||
				strings.Join(res.Changed, ",") != "artifacts/b.json" || strings.Join(res.Unchanged, ",") != "artifacts/same.csv" {
				t.Errorf("lists %+v", res)
			}
			if res.Summary["added_count"] != 1 || res.Summary["removed_count"] != 1 || res.Summary["changed_count"] != 1 || res.Summary["unchanged_count"] != 1 {
				t.Errorf("summary %v", res.Summary)
			}
			if res.Identical == nil || *res.Identical {
				t.Errorf("identical %v", res.Identical)
			}
			// The existing tool's keys come first, in its order.
			keys := []string{`"pack1"`, `"pack2"`, `"added"`, `"removed"`, `"changed"`, `"unchanged"`, `"summary"`}
			last := -1
			for _, k := range keys {
				i := strings.Index(out, k)
				if i < last {
					t.Errorf("%s out of order", k)
				}
				last = i
			}
		}},
		{name: "json, empty lists are []", args: []string{"diff", old, old, "--json", "--exit-code"}, check: func(t *testing.T, out string) {
			for _, k := range []string{`"added": []`, `"removed": []`, `"changed": []`, `"identical": true`} {
				if !strings.Contains(out, k) {
					t.Errorf("lacks %s:\n%s", k, out)
				}
			}
		}},
		{name: "an existing path with ':' is a file", args: []string{"diff", "reg:v1.0.0", old, "--json"}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, `"path": "reg:v1.0.0"`) || strings.Contains(out, `"remote"`) {
				t.Errorf("%s", out)
			}
		}},
		{name: "tampered side", args: []string{"diff", old, tampered}, code: 11, err: "tampered.epack: artifact"},
		{name: "missing file", args: []string{"diff", old, filepath.Join(dir, "nope.epack")}, code: 2, err: "pack not found"},
		{name: "neither a file nor a remote", args: []string{"diff", old, "nope:v1"}, code: 1, err: "neither a pack file nor a release"},
		{name: "remote without ref", args: []string{"diff", "reg:", old}, code: 2, err: "reg:latest"},
		{name: "frozen with allow-unpinned", args: []string{"diff", old, "reg:v9", "--frozen", "--insecure-allow-unpinned"}, code: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, out, errOut)
			}
			for _, s := range c.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if !strings.Contains(errOut, c.err) {
				t.Errorf("stderr lacks %q:\n%s", c.err, errOut)
			}
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}

// TestDiffHelpSaysNoReceipt: a side pulled only to be compared records no
// receipt (pull.Options.NoReceipt), and the help says so.
func TestDiffHelpSaysNoReceipt(t *testing.T) {
	long := newCmdDiff(&Globals{}, nil).Long
	if strings.Contains(long, "receipts/pull") || !strings.Contains(long, "no pull receipt is recorded") {
		t.Errorf("diff help about receipts:\n%s", long)
	}
}
