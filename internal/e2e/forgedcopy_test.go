package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/registry"
)

// TestForgedCurrentCopy: the current copy of a release (what pull,
// releases and hold read; writable and outside the hash chain) is edited
// in a filesystem registry behind epack's back, through the real CLI and
// adapter: its labels, then its pack pointed at another release's. `epack
// pull --release` and `epack releases` refuse (exit non-zero, naming the
// release as altered) and write nothing, a re-push of the pack does not
// write the forged state into the chain, and `epack log verify` exits 11
// naming the current copy; put back, everything is clean again.
func TestForgedCurrentCopy(t *testing.T) {
	p := newProj(t, fsStore())
	reg := filepath.Join(p.root, ".epack", "registry")
	var ids, packs []string
	for i, data := range []string{`{"a":1}`, `{"b":1}`, `{"c":1}`} {
		path := filepath.Join(p.root, "dist", string(rune('a'+i))+".epack")
		e2e.WritePack(t, path, "acme/prod", e2e.File{Name: "x.json", Data: []byte(data)})
		res := p.runJSON(t, "push", "reg", path, "--frozen", "--label", "v1."+string(rune('0'+i)))
		ids = append(ids, res["release_id"].(string))
		packs = append(packs, path)
	}
	stream := filepath.Join(reg, "streams", "acme", "prod", registry.EscapeName("acme/prod"))
	current := filepath.Join(stream, "current", ids[1]+".json")
	records := filepath.Join(reg, "releases", "acme", "prod", registry.EscapeName("acme/prod"))
	orig, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	verify := func() (map[string]any, int) {
		t.Helper()
		out, errOut, code := p.run(t, "log", "verify", "reg", "--frozen", "--json")
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("log verify: not JSON (exit %d): %v\n%s\n%s", code, err, out, errOut)
		}
		return v, code
	}
	if v, code := verify(); code != 0 || v["ok"] != true {
		t.Fatalf("log verify of the untouched registry: exit %d %v", code, v)
	}

	rel, err := registry.ParseRecord(orig)
	if err != nil {
		t.Fatal(err)
	}
	rel.Labels = []string{"v9.9.9"}
	relabeled, _ := registry.EncodeRecord(rel)
	first, err := os.ReadFile(filepath.Join(records, ids[0]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := registry.ParseRecord(first)
	rel.FileDigest, rel.SizeBytes, rel.PackDigest, rel.ManifestDigest = other.FileDigest, other.SizeBytes, other.PackDigest, other.ManifestDigest
	repointed, _ := registry.EncodeRecord(rel)
	recordsBefore := listFiles(t, records)

	for _, c := range []struct {
		name string
		data []byte
	}{{"labels", relabeled}, {"pack", repointed}} {
		if err := os.WriteFile(current, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		got := filepath.Join(p.root, "got-"+c.name+".epack")
		out, errOut, code := p.run(t, "pull", "reg", "--release", ids[1], "-o", got, "--frozen")
		if code == 0 || !strings.Contains(errOut, "current copy of release "+ids[1]+" was altered") {
			t.Fatalf("pull --release with an edited current copy (%s): exit %d\n%s\n%s", c.name, code, out, errOut)
		}
		if _, err := os.Stat(got); !os.IsNotExist(err) {
			t.Fatalf("pull (%s) wrote %s", c.name, got)
		}
		out, errOut, code = p.run(t, "releases", "reg", "--frozen")
		if code == 0 || strings.Contains(out, "v9.9.9") || !strings.Contains(errOut, ids[1]) {
			t.Fatalf("releases with an edited current copy (%s): exit %d\n%s\n%s", c.name, code, out, errOut)
		}
		if out, errOut, code := p.run(t, "push", "reg", packs[1], "--frozen", "--label", "again"); code == 0 {
			t.Fatalf("re-push over an edited current copy (%s) succeeded\n%s\n%s", c.name, out, errOut)
		}
		if now := listFiles(t, records); !slices.Equal(now, recordsBefore) {
			t.Fatalf("the refused re-push (%s) wrote records: %v, was %v", c.name, now, recordsBefore)
		}
		v, code := verify()
		problems, _ := v["problems"].([]any)
		named := false
		for _, pr := range problems {
			m := pr.(map[string]any)
			named = named || m["kind"] == registry.ProblemAltered && m["release_id"] == ids[1] && m["record"] == registry.CurrentPrefix+ids[1]
		}
		if code != 11 || v["ok"] != false || !named || len(problems) != 1 {
			t.Fatalf("log verify with an edited current copy (%s): exit %d, problems %v", c.name, code, problems)
		}
		if out, _, code := p.run(t, "log", "verify", "reg", "--frozen"); code != 11 || !strings.Contains(out, ids[1]) || !strings.Contains(out, "altered") {
			t.Fatalf("log verify (human, %s): exit %d\n%s", c.name, code, out)
		}
	}

	if err := os.WriteFile(current, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if v, code := verify(); code != 0 || v["ok"] != true {
		t.Fatalf("log verify once the current copy is put back: exit %d %v", code, v)
	}
	got := filepath.Join(p.root, "got.epack")
	p.runJSON(t, "pull", "reg", "--release", ids[1], "-o", got, "--frozen")
	a, _ := os.ReadFile(packs[1])
	b, _ := os.ReadFile(got)
	if !bytes.Equal(a, b) {
		t.Fatal("the pulled pack is not the release's")
	}
	if l := p.releases(t); len(l.Releases) != 3 {
		t.Fatalf("releases once put back: %v", idsOf(l))
	}
}

// listFiles lists the files below dir, relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
