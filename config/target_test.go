package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// TestUpstreamExampleRemotesLoad loads the two remotes the existing tool's
// own example configuration writes (COMPAT §10.2) and checks what they mean
// for our adapters: target.dir is the filesystem registry root and its
// file_root, target.bucket is the S3 bucket.
func TestUpstreamExampleRemotesLoad(t *testing.T) {
	c, root := mustLoad(t, `
stream: acme/prod
remotes:
  local:
    adapter: filesystem
    target:
      dir: ./published
  cloud:
    adapter: s3
    target:
      bucket: my-evidence-bucket
      workspace: acme
`)
	want := filepath.Join(root, "published")
	for _, env := range []string{"", "none"} {
		if env != "" {
			c.Environments = map[string]*Environment{env: {}}
		}
		l, err := c.ResolveRemote("local", env)
		if err != nil {
			t.Fatal(err)
		}
		if l.Target.Dir != want || l.Transport.FileRoot != want || l.FileRoot() != want {
			t.Errorf("env %q: target.dir %q, file_root %q, want both %q", env, l.Target.Dir, l.Transport.FileRoot, want)
		}
		s, err := c.ResolveRemote("cloud", env)
		if err != nil {
			t.Fatal(err)
		}
		if s.Extensions["bucket"] != "my-evidence-bucket" || s.AdapterConfig()["bucket"] != "my-evidence-bucket" || s.Target.Workspace != "acme" {
			t.Errorf("env %q: extensions %v, target %+v", env, s.Extensions, s.Target)
		}
		if s.Transport.FileRoot != "" {
			t.Errorf("s3 remote got a file_root %q", s.Transport.FileRoot)
		}
	}
}

// TestTargetShorthands covers how target.dir and target.bucket combine with
// transport.file_root, extensions.bucket and environment overrides.
func TestTargetShorthands(t *testing.T) {
	tests := []struct {
		name     string
		yml      string
		env      string
		fileRoot string // relative to the project root; "" = none
		bucket   any    // expected extensions.bucket (nil = none)
		err      []string
	}{
		{name: "dir alone", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: published}}\n", fileRoot: "published"},
		{name: "dir with dot segments", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: ./a/../published/}}\n", fileRoot: "published"},
		{name: "dir blank is unset", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: '  '}}\n"},
		{name: "dir equals file_root", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: ./p}, transport: {file_root: p/}}\n", fileRoot: "p"},
		{name: "dir and file_root differ", yml: "remotes:\n  r:\n    adapter: filesystem\n    target: {dir: ./a}\n    transport: {file_root: ./b}\n",
			err: []string{"epack.yaml:5:", `remote "r"`, "target.dir", "transport.file_root", "different"}},
		{name: "dir with NUL", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: \"a\\0b\"}}\n", err: []string{"target.dir", "NUL"}},
		{name: "bucket alone", yml: "remotes:\n  r: {adapter: s3, target: {bucket: b1}}\n", bucket: "b1"},
		{name: "bucket trimmed", yml: "remotes:\n  r: {adapter: s3, target: {bucket: ' b1 '}}\n", bucket: "b1"},
		{name: "bucket equals extensions", yml: "remotes:\n  r: {adapter: s3, target: {bucket: b1}, extensions: {bucket: b1, region: x}}\n", bucket: "b1"},
		{name: "bucket fills null extension", yml: "remotes:\n  r: {adapter: s3, target: {bucket: b1}, extensions: {bucket: null}}\n", bucket: "b1"},
		{name: "bucket differs from extensions", yml: "remotes:\n  r:\n    adapter: s3\n    target: {bucket: b1}\n    extensions: {bucket: b2}\n",
			err: []string{"epack.yaml:5:", "target.bucket", "extensions.bucket", `"b1"`, `"b2"`}},
		{name: "bucket vs non-string extension", yml: "remotes:\n  r: {adapter: s3, target: {bucket: '5'}, extensions: {bucket: 5}}\n",
			err: []string{"target.bucket", "extensions.bucket"}},
		{name: "override may not set target.dir", yml: "remotes:\n  r: {adapter: filesystem}\nenvironments:\n  ci:\n    remotes:\n      r: {target: {dir: x}}\n",
			err: []string{"epack.yaml:6:", `"target.dir" cannot be set in an environment override`}},
		{name: "override may not set target.bucket", yml: "remotes:\n  r: {adapter: s3}\nenvironments:\n  ci:\n    remotes:\n      r: {target: {bucket: x}}\n",
			err: []string{`"target.bucket" cannot be set in an environment override`}},
		{name: "override keeps base dir", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: p}}\nenvironments:\n  ci:\n    remotes:\n      r: {release: {labels: [ci]}}\n",
			env: "ci", fileRoot: "p"},
		{name: "override file_root equal to base dir", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: p}}\nenvironments:\n  ci:\n    remotes:\n      r: {transport: {file_root: ./p}}\n",
			env: "ci", fileRoot: "p"},
		{name: "override file_root against base dir", yml: "remotes:\n  r: {adapter: filesystem, target: {dir: p}}\nenvironments:\n  ci:\n    remotes:\n      r:\n        transport: {file_root: q}\n",
			err: []string{"epack.yaml:7:", `environment "ci" remote "r"`, "target.dir", "transport.file_root"}},
		{name: "override extensions keep base bucket", yml: "remotes:\n  r: {adapter: s3, target: {bucket: b1}}\nenvironments:\n  ci:\n    remotes:\n      r: {extensions: {region: eu}}\n",
			env: "ci", bucket: "b1"},
		{name: "override bucket against base target.bucket", yml: "remotes:\n  r: {adapter: s3, target: {bucket: b1}}\nenvironments:\n  ci:\n    remotes:\n      r: {extensions: {bucket: b2}}\n",
			err: []string{`environment "ci" remote "r"`, "target.bucket", `"b2"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeProject(t, tc.yml)
			c, err := Load(root)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("loaded, want an error containing %q", tc.err)
				}
				if errcode.Of(err) != errcode.ConfigInvalid || errcode.HintOf(err) == "" {
					t.Errorf("error %v: code %q, hint %q", err, errcode.Of(err), errcode.HintOf(err))
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.ResolveRemote("r", tc.env)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.fileRoot != "" {
				want = filepath.Join(root, tc.fileRoot)
			}
			if r.Transport.FileRoot != want {
				t.Errorf("file_root = %q, want %q", r.Transport.FileRoot, want)
			}
			if got := r.Extensions["bucket"]; got != tc.bucket {
				t.Errorf("extensions.bucket = %#v, want %#v", got, tc.bucket)
			}
		})
	}
}

// TestTargetShorthandsHandBuilt: a config built in Go (no Load) gets the
// same meaning from ResolveRemote and the same conflicts are refused.
func TestTargetShorthandsHandBuilt(t *testing.T) {
	c := &Config{Remotes: map[string]*Remote{
		"fs":  {Adapter: "filesystem", Target: RemoteTarget{Dir: "/srv/reg"}},
		"s3":  {Adapter: "s3", Target: RemoteTarget{Bucket: "b"}},
		"bad": {Adapter: "filesystem", Target: RemoteTarget{Dir: "/a"}, Transport: RemoteTransport{FileRoot: "/b"}},
	}}
	fs, err := c.ResolveRemote("fs", "")
	if err != nil || fs.Transport.FileRoot != "/srv/reg" {
		t.Fatalf("fs: %v %+v", err, fs)
	}
	s3, err := c.ResolveRemote("s3", "")
	if err != nil || s3.Extensions["bucket"] != "b" {
		t.Fatalf("s3: %v %+v", err, s3)
	}
	if c.Remotes["s3"].Extensions != nil {
		t.Error("ResolveRemote changed the config it read")
	}
	if _, err := c.ResolveRemote("bad", ""); errcode.Of(err) != errcode.ConfigInvalid {
		t.Fatalf("conflict: %v", err)
	}
	// AdapterConfig and FileRoot need no ResolveRemote.
	raw := &Remote{Target: RemoteTarget{Bucket: "x", Dir: "/d"}, Extensions: map[string]any{"region": "eu"}}
	if got := raw.AdapterConfig(); got["bucket"] != "x" || got["region"] != "eu" || raw.Extensions["bucket"] != nil {
		t.Errorf("AdapterConfig = %v (extensions %v)", got, raw.Extensions)
	}
	if raw.FileRoot() != "/d" {
		t.Errorf("FileRoot = %q", raw.FileRoot())
	}
}

// TestUnknownKeySuggestion: a key nobody knows stays an error, and the
// nearest key valid at that place is suggested.
func TestUnknownKeySuggestion(t *testing.T) {
	tests := []struct {
		name, yml, want, not string
	}{
		{"labels transposed", "remotes:\n  o:\n    adapter: x\n    release: {lables: [a]}\n", `unknown key "lables" in release; did you mean "labels"?`, ""},
		{"remote level", "remotes:\n  o:\n    adaptor: x\n", `unknown key "adaptor"; did you mean "adapter"?`, ""},
		{"target level", "remotes:\n  o:\n    adapter: x\n    target: {worksapce: w}\n", `unknown key "worksapce" in target; did you mean "workspace"?`, ""},
		{"case only", "remotes:\n  o:\n    adapter: x\n    Transport: {file_root: x}\n", `unknown key "Transport"; did you mean "transport"?`, ""},
		{"nested", "remotes:\n  o:\n    adapter: x\n    release: {source: {git: {sha_evn: X}}}\n", `unknown key "sha_evn" in release.source.git; did you mean "sha_env"?`, ""},
		{"override", "remotes:\n  o: {adapter: x}\nenvironments:\n  ci:\n    remotes:\n      o: {relase: {notes: n}}\n", `unknown key "relase"; did you mean "release"?`, ""},
		{"nothing close", "remotes:\n  o:\n    adapter: x\n    zzzz: 1\n", `unknown key "zzzz"`, "did you mean"},
		{"only keys of that place", "remotes:\n  o:\n    adapter: x\n    runs: {labels: [a]}\n", `unknown key "labels" in runs`, "did you mean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeProject(t, tc.yml))
			if err == nil {
				t.Fatal("loaded")
			}
			if errcode.Of(err) != errcode.ConfigInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (%s), want %q", err, errcode.Of(err), tc.want)
			}
			if tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("error %q contains %q", err, tc.not)
			}
			if errcode.HintOf(err) == "" {
				t.Errorf("no hint: %v", err)
			}
		})
	}
}

func TestSuggestKey(t *testing.T) {
	keys := []string{"labels", "notes", "source", "workspace", "environment", "dir", "bucket"}
	tests := []struct{ in, want string }{
		{"lables", "labels"},
		{"label", "labels"},
		{"LABELS", "labels"},
		{"nots", "notes"},
		{"envirnoment", "environment"},
		{"dri", "dir"},
		{"di", "dir"},
		{"bukcet", "bucket"},
		{"x", ""},
		{"ab", ""},
		{"sourcecode", ""},
		{"", ""},
		{"completely-different", ""},
	}
	for _, tc := range tests {
		if got := suggestKey(tc.in, keys); got != tc.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
