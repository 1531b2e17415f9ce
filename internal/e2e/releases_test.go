package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// listed is `epack releases --json`.
type listed struct {
	Remote     string           `json:"remote"`
	Adapter    string           `json:"adapter"`
	Target     map[string]any   `json:"target"`
	Count      int              `json:"count"`
	NextCursor *string          `json:"next_cursor"`
	Releases   []map[string]any `json:"releases"`
}

func (p *proj) releases(t *testing.T, args ...string) listed {
	t.Helper()
	out, errOut, code := p.run(t, append([]string{"releases", "reg", "--json", "--frozen"}, args...)...)
	if code != 0 {
		t.Fatalf("epack releases %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	var l listed
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("epack releases %v: %v\n%s", args, err, out)
	}
	if l.Releases == nil || l.NextCursor == nil || l.Count != len(l.Releases) || l.Remote != "reg" || l.Adapter == "" {
		t.Fatalf("epack releases %v: releases must be an array, next_cursor a string, count its length:\n%s", args, out)
	}
	return l
}

func idsOf(l listed) []string {
	var out []string
	for _, r := range l.Releases {
		out = append(out, r["release_id"].(string))
	}
	return out
}

// TestReleasesThroughCLI: pushes to two streams through the real CLI and
// adapters, then `epack releases` lists each release with its stream,
// version, labels and digests, newest first; --stream and --label filter,
// --limit 1 pages; a second pack pushed with an existing version is
// refused and the registry is unchanged.
func TestReleasesThroughCLI(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) {
			p := newProj(t, st)
			if l := p.releases(t); len(l.Releases) != 0 || *l.NextCursor != "" {
				t.Fatalf("empty registry: %+v", l)
			}
			pack := func(name, stream, data string) string {
				e2e.WritePack(t, filepath.Join(p.root, "dist", name+".epack"), stream, e2e.File{Name: "x.json", Data: []byte(data)})
				return "dist/" + name + ".epack"
			}
			a := pack("a", "acme/evidence", `{"a":1}`)
			b := pack("b", "acme/other", `{"b":1}`)
			c := pack("c", "acme/evidence", `{"c":1}`)
			type pushed struct {
				res    map[string]any
				stream string
				labels []string
				ver    string
			}
			var all []pushed
			for _, x := range []struct {
				path, stream string
				labels       []string
				ver          string
			}{
				{a, "acme/evidence", []string{"v1.0.0", "monthly"}, "v1.0.0"},
				{b, "acme/other", []string{"v1.0.0"}, "v1.0.0"}, // another stream has its own v1.0.0
				{c, "acme/evidence", []string{"v1.1.0"}, "v1.1.0"},
			} {
				args := []string{"push", "reg", x.path, "--frozen"}
				for _, l := range x.labels {
					args = append(args, "--label", l)
				}
				all = append(all, pushed{p.runJSON(t, args...), x.stream, x.labels, x.ver})
			}
			var wantIDs []string
			byID := map[string]pushed{}
			for _, x := range all {
				id := x.res["release_id"].(string)
				wantIDs = append(wantIDs, id)
				byID[id] = x
			}
			slices.Sort(wantIDs)
			slices.Reverse(wantIDs)

			l := p.releases(t)
			if !slices.Equal(idsOf(l), wantIDs) || *l.NextCursor != "" {
				t.Fatalf("releases %v (next %q), want %v newest first", idsOf(l), *l.NextCursor, wantIDs)
			}
			for _, r := range l.Releases {
				x := byID[r["release_id"].(string)]
				labels, _ := r["labels"].([]any)
				var got []string
				for _, v := range labels {
					got = append(got, v.(string))
				}
				// The same names and values as push --json for the same facts.
				for _, k := range []string{"pack_digest", "file_digest", "size_bytes"} {
					if r[k] != x.res[k] {
						t.Errorf("release %s %s = %v, push said %v", r["release_id"], k, r[k], x.res[k])
					}
				}
				if r["stream"] != x.stream || r["version"] != x.ver || !slices.Equal(got, x.labels) || r["created_at"] == "" {
					t.Errorf("release %v, want stream %s version %s labels %v", r, x.stream, x.ver, x.labels)
				}
				if s, ok := r["signers"].([]any); !ok || len(s) != 0 {
					t.Errorf("signers %v, want []", r["signers"])
				}
			}

			// Filters.
			if got := idsOf(p.releases(t, "--stream", "acme/evidence")); !slices.Equal(got, []string{all[2].res["release_id"].(string), all[0].res["release_id"].(string)}) {
				t.Fatalf("--stream acme/evidence: %v", got)
			}
			if got := idsOf(p.releases(t, "--label", "monthly")); !slices.Equal(got, []string{all[0].res["release_id"].(string)}) {
				t.Fatalf("--label monthly: %v", got)
			}
			if got := idsOf(p.releases(t, "--stream", "acme/other", "--label", "v1.0.0")); !slices.Equal(got, []string{all[1].res["release_id"].(string)}) {
				t.Fatalf("--stream acme/other --label v1.0.0: %v", got)
			}

			// --limit 1 pages through all of it.
			var paged []string
			args := []string{"--limit", "1"}
			for i := 0; ; i++ {
				page := p.releases(t, args...)
				if len(page.Releases) != 1 || i > len(wantIDs) {
					t.Fatalf("page %d: %+v", i, page)
				}
				paged = append(paged, idsOf(page)...)
				if *page.NextCursor == "" {
					break
				}
				args = []string{"--limit", "1", "--cursor", *page.NextCursor}
			}
			if !slices.Equal(paged, wantIDs) {
				t.Fatalf("paged %v, want %v", paged, wantIDs)
			}

			// Another pack with v1.0.0 in acme/evidence: refused, the
			// registry unchanged.
			before := p.releases(t)
			d := pack("d", "acme/evidence", `{"d":1}`)
			out, errOut, code := p.run(t, "push", "reg", d, "--label", "v1.0.0", "--frozen", "--json")
			var refused struct {
				Error struct{ Code, Message, Hint string }
			}
			json.Unmarshal([]byte(out), &refused)
			holder := all[0].res["release_id"].(string)
			if code != 1 || refused.Error.Code != "remote_conflict" || !strings.Contains(refused.Error.Hint, holder) || !strings.Contains(refused.Error.Message, "v1.0.0") {
				t.Fatalf("push of another pack as v1.0.0: exit %d\n%s\n%s", code, out, errOut)
			}
			if after := p.releases(t); !reflect.DeepEqual(after, before) {
				t.Fatalf("the registry changed:\n%+v\n%+v", before, after)
			}
			pulled := p.runJSON(t, "pull", "reg", "--stream", "acme/evidence", "--version", "v1.0.0", "-o", "v1.epack", "--frozen")
			if pulled["release_id"] != holder {
				t.Fatalf("v1.0.0 now pulls %v, want %s", pulled["release_id"], holder)
			}
			// The same pack again with its version is fine: the same release.
			if again := p.runJSON(t, "push", "reg", a, "--label", "v1.0.0", "--frozen"); again["release_id"] != holder {
				t.Fatalf("same pack, same version: %v", again["release_id"])
			}

			// The human table names every release and says how to go on.
			out, errOut, code = p.run(t, "releases", "reg", "--frozen", "--limit", "2")
			if code != 0 || !strings.Contains(out, wantIDs[0]) || !strings.Contains(out, wantIDs[1]) || strings.Contains(out, wantIDs[2]) ||
				!strings.Contains(out, "--cursor "+wantIDs[1]) || !strings.Contains(out, "v1.1.0") {
				t.Fatalf("table: exit %d\n%s\n%s", code, out, errOut)
			}
		})
	}
}

// An adapter without releases.list: a clear error, exit 1, with a hint.
func TestReleasesUnsupportedAdapter(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	tp := e2e.NewTestProject(t, bin, e2e.TestRemote{})
	for _, asJSON := range []bool{false, true} {
		args := []string{"releases", "t", "--insecure-allow-unpinned"}
		if asJSON {
			args = append(args, "--json")
		}
		out, errOut, code := testkit.Run(t, filepath.Join(bin, "epack"), tp.Root, []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI="}, args...)
		if code != 1 || !strings.Contains(errOut, `this registry (adapter "test") cannot list releases`) || !strings.Contains(errOut, "Hint: ") {
			t.Fatalf("json=%v: exit %d\n%s\n%s", asJSON, code, out, errOut)
		}
		if asJSON {
			var res struct {
				OK    *bool
				Error struct{ Code, Hint string }
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.OK == nil || *res.OK || res.Error.Code != "unsupported_feature" || res.Error.Hint == "" {
				t.Fatalf("json answer %s: %v", out, err)
			}
		}
	}
	if log := e2e.ReadLog(t, tp.State); len(log) != 0 {
		t.Fatalf("the adapter was sent %d requests: %v", len(log), log)
	}
}
