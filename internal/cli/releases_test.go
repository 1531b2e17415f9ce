package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
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

func TestReleasesSignerCell(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		s       protocol.ReleaseSigner
		verbose bool
		want    string
	}{
		{protocol.ReleaseSigner{Kind: "key", Signer: id, KeyID: id, Verified: true}, false, "key:abababababab…(verified)"},
		{protocol.ReleaseSigner{Kind: "key", Signer: id, KeyID: id, Verified: true}, true, "key:" + id + "(verified)"},
		{protocol.ReleaseSigner{Kind: "key"}, false, "key:?"},
		{protocol.ReleaseSigner{Kind: "keyless", Signer: "alice@example.com", Subject: "alice@example.com", Issuer: "https://i.example"}, false, "keyless:alice@example.com"},
		{protocol.ReleaseSigner{Kind: "keyless", Subject: "alice@example.com", Issuer: "https://i.example", Verified: true}, false, "keyless:alice@example.com(verified)"},
		{protocol.ReleaseSigner{Kind: "keyless", Subject: "a\x1b[2Jb"}, false, `keyless:a\x1b[2Jb`},
	} {
		if got := signerCell(tc.s, tc.verbose); got != tc.want {
			t.Errorf("signerCell(%+v, %v) = %q, want %q", tc.s, tc.verbose, got, tc.want)
		}
	}
	// --json: signers is [] when the registry recorded none, and each
	// signer says whether it was verified.
	b, _ := json.Marshal(toReleaseJSON(protocol.ReleaseEntry{}))
	if !strings.Contains(string(b), `"signers":[]`) {
		t.Fatalf("no signers: %s", b)
	}
	b, _ = json.Marshal(toReleaseJSON(protocol.ReleaseEntry{Signers: []protocol.ReleaseSigner{{Kind: "key"}}}))
	if !strings.Contains(string(b), `"signers":[{"kind":"key","signer":"","verified":false}]`) {
		t.Fatalf("a claimed signer: %s", b)
	}
}
