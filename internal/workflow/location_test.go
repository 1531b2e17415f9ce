package workflow

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestParseLocation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		loc     string
		adapter string
		check   func(t *testing.T, ext map[string]any, root, ws, env string, loopback bool)
		code    errcode.Code
	}{
		{loc: "file://" + dir + "?workspace=acme&environment=prod", adapter: "filesystem", check: func(t *testing.T, _ map[string]any, root, ws, env string, _ bool) {
			if root != dir || ws != "acme" || env != "prod" {
				t.Fatalf("root %s ws %s env %s", root, ws, env)
			}
		}},
		{loc: dir, adapter: "filesystem"},
		{loc: "s3://bucket/a/b?region=eu-west-1&endpoint=http://127.0.0.1:9000&path_style=true", adapter: "s3", check: func(t *testing.T, ext map[string]any, _, _, _ string, loopback bool) {
			if ext["bucket"] != "bucket" || ext["prefix"] != "a/b" || ext["region"] != "eu-west-1" || ext["path_style"] != true || !loopback {
				t.Fatalf("ext %v loopback %v", ext, loopback)
			}
		}},
		{loc: "s3://bucket?endpoint=http://evil.example", code: errcode.InvalidInput},
		{loc: "s3://user:pw@bucket", code: errcode.InvalidInput},
		{loc: "s3://", code: errcode.InvalidInput},
		{loc: "file://host/x", code: errcode.InvalidInput},
		{loc: "gopher://x", code: errcode.InvalidInput},
		{loc: filepath.Join(dir, "missing"), code: errcode.InvalidInput},
		{loc: "file://" + dir + "?workspace=../x", code: errcode.InvalidInput},
	}
	for _, c := range cases {
		r, err := ParseLocation(dir, c.loc)
		if c.code != "" {
			if errcode.Of(err) != c.code {
				t.Errorf("%s: err %v, want %s", c.loc, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.loc, err)
			continue
		}
		if r.Adapter != c.adapter {
			t.Errorf("%s: adapter %s", c.loc, r.Adapter)
		}
		if c.check != nil {
			c.check(t, r.Extensions, r.Transport.FileRoot, r.Target.Workspace, r.Target.Environment, r.Transport.AllowLoopbackHTTP)
		}
	}
	for _, s := range []string{"origin", "local", "my-remote"} {
		if IsLocation(s) {
			t.Errorf("remote name %q taken for a location", s)
		}
	}
}

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"file:///tmp", "s3://b/p?region=x&endpoint=https://e", "./x", "/", "s3://b?path_style=maybe", "file://%zz"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, loc string) {
		r, err := ParseLocation(dir, loc)
		if err != nil {
			if errcode.Of(err) != errcode.InvalidInput {
				t.Fatalf("%q: error without invalid_input: %v", loc, err)
			}
			return
		}
		switch r.Adapter {
		case "s3":
			if b, _ := r.Extensions["bucket"].(string); b == "" {
				t.Fatalf("%q: s3 without bucket", loc)
			}
		case "filesystem":
			if !filepath.IsAbs(r.Transport.FileRoot) || strings.ContainsRune(r.Transport.FileRoot, 0) {
				t.Fatalf("%q: file root %q", loc, r.Transport.FileRoot)
			}
		default:
			t.Fatalf("%q: adapter %q", loc, r.Adapter)
		}
	})
}
