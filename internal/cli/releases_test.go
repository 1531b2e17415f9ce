package cli

import (
	"reflect"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// 'epack releases' parses into releasesOptions; usage mistakes are
// invalid_input before anything runs.
func TestReleasesFlags(t *testing.T) {
	clearEnv(t)
	g, got, err := parseWith(t, newCmdReleases, "releases", "origin", "--stream", "acme/prod", "--label", "v1.0.0,monthly", "--label", "x",
		"--limit", "7", "--cursor", "rel_1", "--env", "prod", "--workspace", "acme", "--frozen", "--yes", "--json")
	if err != nil {
		t.Fatal(err)
	}
	want := &releasesOptions{g: g, Remote: "origin", Env: "prod", Workspace: "acme", Stream: "acme/prod", Labels: []string{"v1.0.0", "monthly", "x"},
		Limit: 7, Cursor: "rel_1", Frozen: true, Yes: true}
	if !reflect.DeepEqual(got, want) || !g.JSON {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	_, got, err = parseWith(t, newCmdReleases, "releases", "origin")
	if err != nil || got.(*releasesOptions).Limit != defaultReleasesShown {
		t.Fatalf("default limit: %+v %v", got, err)
	}
	for _, args := range [][]string{
		{"releases"},
		{"releases", "a", "b"},
		{"releases", "a", "--stream", " "},
		{"releases", "a", "--cursor", ""},
		{"releases", "a", "--limit", "many"},
	} {
		_, got, err := parseWith(t, newCmdReleases, args...)
		if got != nil || !errcode.Has(err, errcode.InvalidInput) {
			t.Errorf("%v: %v (ran: %v)", args, err, got != nil)
		}
	}
	cmd := newCmdReleases(&Globals{}, nil)
	if cmd.Hidden || cmd.Short == "" || cmd.Long == "" {
		t.Fatal("epack releases is hidden or undocumented")
	}
}

// Bad values are refused before any project or adapter is looked at.
func TestReleasesBadValues(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir()) // no epack.yaml here: reaching it would be project_not_found
	for _, o := range []releasesOptions{
		{Remote: "r", Limit: 0},
		{Remote: "r", Limit: maxReleasesShown + 1},
		{Remote: "r", Limit: 5, Stream: "a/../b"},
		{Remote: "r", Limit: 5, Workspace: "../x"},
		{Remote: "r", Limit: 5, Cursor: "a b"},
		{Remote: "r", Limit: 5, Labels: []string{" "}},
	} {
		ios, _, _, _ := NewTestIOStreams()
		o.g = &Globals{IO: ios}
		if err := runReleases(t.Context(), &o); !errcode.Has(err, errcode.InvalidInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{"rel_01ABC": "rel_01ABC", "acme/prod": "acme/prod", "a b": "'a b'", "it's": `'it'\''s'`, "$x": "'$x'"} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %q, want %q", in, got, want)
		}
	}
}
