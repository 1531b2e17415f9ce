package pull_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pull"
)

// setExt adds members to the test adapter's extensions after the push.
func setExt(t *testing.T, e *env, ext string) {
	t.Helper()
	cfg := filepath.Join(e.root, "epack.yaml")
	y, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(y), `"state_dir":"`+e.state+`"`, `"state_dir":"`+e.state+`"`+ext, 1)
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPullRefusesAnotherPackThanAsked: an adapter that answers a version or
// release request with another release, or says one stream while the pack's
// manifest says another, used to get its pack written with at most a
// warning. Each such answer is refused now (digest_mismatch, exit 11): no
// output, the existing file intact with --force, no temp file, and no
// pull.finalize (nothing was accepted). Verification off does not skip it.
func TestPullRefusesAnotherPackThanAsked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ref      pull.Ref
		ext      string
		noVerify bool
		want     string
	}{
		{name: "version differs", ref: pull.Ref{Version: "v1.0.0"}, want: `version "v1"`},
		{name: "version right, stream differs from manifest", ref: pull.Ref{Version: "v1.0.0"},
			ext: `,"pull_version":"v1.0.0","pull_stream":"acme/other"`, want: `"acme/other"`},
		{name: "version only in another label", ref: pull.Ref{Version: "v2"}, ext: `,"pull_version":"","pull_labels":["v1","monthly"]`, want: "does not say"},
		{name: "release differs", ref: pull.Ref{ReleaseID: "rel_0002"}, want: `"rel_0001"`},
		{name: "latest, stream differs from manifest", ref: pull.Ref{}, ext: `,"pull_stream":"acme/other"`, want: `"acme/other"`},
		{name: "stream differs, verification off", ref: pull.Ref{}, ext: `,"pull_stream":"acme/other"`, noVerify: true, want: `"acme/other"`},
		{name: "answer stream the registries refuse", ref: pull.Ref{}, ext: `,"pull_stream":"../../acme/evidence"`, want: "stream"},
	}
	for _, tc := range cases {
		for _, force := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/force=%v", tc.name, force), func(t *testing.T) {
				e := newEnv(t, "")
				setExt(t, e, tc.ext)
				out := filepath.Join(e.root, "existing.epack")
				if force {
					os.WriteFile(out, []byte("precious"), 0o644)
				}
				o := e.opts(out)
				o.Force, o.Ref = force, tc.ref
				if tc.noVerify {
					no := false
					o.Verify = &no
				}
				res, err := pull.Pull(context.Background(), o)
				if err == nil {
					t.Fatalf("pull succeeded: %+v", res)
				}
				if exitstatus.Of(err) == 0 || exitstatus.Of(err) == 1 && errcode.Of(err) == "" {
					t.Errorf("exit %d for %v", exitstatus.Of(err), err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q lacks %q", err, tc.want)
				}
				b, rerr := os.ReadFile(out)
				if force && string(b) != "precious" {
					t.Fatalf("existing output changed: %q", b)
				}
				if !force && rerr == nil {
					t.Fatal("a refused pull left an output file")
				}
				if l := leftovers(t, e.root); len(l) != 0 {
					t.Fatalf("temp files left: %v", l)
				}
				if _, err := os.Stat(filepath.Join(e.root, "acme-other.epack")); err == nil {
					t.Fatal("an output named after the answer's stream appeared")
				}
				for _, r := range e2e.ReadLog(t, e.state) {
					if r["type"] == "pull.finalize" {
						t.Fatal("pull.finalize was called for a refused pack")
					}
				}
				if m, _ := filepath.Glob(filepath.Join(e.root, ".epack", "receipts", "pull", "t", "*.json")); len(m) != 0 {
					t.Fatalf("receipt written for a refused pull: %v", m)
				}
			})
		}
	}
}

// TestPullAcceptsWhatWasAsked: answers that do say what was asked (version
// as a field, as a label, with or without the "v", the release id, the
// stream of the manifest) still pull.
func TestPullAcceptsWhatWasAsked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ref  pull.Ref
		ext  string
	}{
		{"latest", pull.Ref{}, ""},
		{"latest, adapter names no stream", pull.Ref{}, `,"pull_stream":""`},
		{"version field", pull.Ref{Version: "v1"}, ""},
		{"version without v", pull.Ref{Version: "1"}, ""},
		{"version as a label", pull.Ref{Version: "v1.2"}, `,"pull_version":"","pull_labels":["monthly","v1.2"]`},
		{"version as a version: label", pull.Ref{Version: "2.0"}, `,"pull_version":"","pull_labels":["version:2.0"]`},
		{"release", pull.Ref{ReleaseID: "rel_0001"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			setExt(t, e, tc.ext)
			o := e.opts(filepath.Join(e.root, "out.epack"))
			o.Ref = tc.ref
			res, err := pull.Pull(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stream != "acme/evidence" {
				t.Errorf("result stream %q, want the manifest's", res.Stream)
			}
		})
	}
}

// TestPullAnswerThatLeavesOutReleaseOrVersion: the protocol lets an adapter
// leave release_id and version out of its answer (adapters on the existing
// SDK often do). Nothing then disagrees with the request: the pack is pulled,
// checked by its file digest and manifest, and a note on stderr says what the
// answer did not confirm.
func TestPullAnswerThatLeavesOutReleaseOrVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ext, note string
		ref             pull.Ref
	}{
		{"release id left out", `,"pull_release_id":""`, `does not say which release it is (asked for "rel_0001")`, pull.Ref{ReleaseID: "rel_0001"}},
		{"version left out", `,"pull_version":""`, `does not say which version it is (asked for "v1")`, pull.Ref{Version: "v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			setExt(t, e, tc.ext)
			var stderr strings.Builder
			o := e.opts(filepath.Join(e.root, "out.epack"))
			o.Ref, o.Stderr = tc.ref, &stderr
			res, err := pull.Pull(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || res.Stream != "acme/evidence" {
				t.Errorf("result %+v", res)
			}
			if !strings.Contains(stderr.String(), tc.note) {
				t.Errorf("stderr %q lacks the note %q", stderr.String(), tc.note)
			}
		})
	}
}

// TestPullRefusesManifestStreamRegistriesRefuse: a pack whose own stream no
// registry accepts is not pulled (the adapter agrees with the manifest, so
// only the name rule can catch it).
func TestPullRefusesManifestStreamRegistriesRefuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	bad := filepath.Join(e.registry, "odd.epack")
	e2e.WritePack(t, bad, "a//b", e2e.File{Name: "a.json", Data: []byte(`{}`)})
	fi, _ := os.Stat(bad)
	setExt(t, e, fmt.Sprintf(`,"download_url":"file://%s","pull_digest":"%s","pull_size":%d,"pull_stream":"a//b"`, bad, e2e.FileSHA256(t, bad), fi.Size()))
	out := filepath.Join(e.root, "out.epack")
	_, err := pull.Pull(context.Background(), e.opts(out))
	if !errcode.Has(err, errcode.InvalidInput) || !strings.Contains(err.Error(), "stream") {
		t.Fatalf("pull: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output written")
	}
}
