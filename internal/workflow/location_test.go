package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestParseLocation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
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
		{loc: "oci://127.0.0.1:5000/acme/evidence?plain_http=true&ca_file=" + caFile + "&workspace=acme", adapter: "oci", check: func(t *testing.T, ext map[string]any, root, ws, _ string, loopback bool) {
			if ext["registry"] != "127.0.0.1:5000" || ext["namespace"] != "acme/evidence" || ext["plain_http"] != true || ext["ca_file"] != caFile || !loopback || ws != "acme" || !filepath.IsAbs(root) {
				t.Fatalf("ext %v loopback %v root %q ws %q", ext, loopback, root, ws)
			}
		}},
		{loc: "oci://ghcr.io", adapter: "oci", check: func(t *testing.T, ext map[string]any, _, _, _ string, loopback bool) {
			if ext["registry"] != "ghcr.io" || ext["namespace"] != nil || ext["plain_http"] != nil || loopback {
				t.Fatalf("ext %v loopback %v", ext, loopback)
			}
		}},
		{loc: "oci://ghcr.io/acme?plain_http=true", code: errcode.InvalidInput},
		{loc: "oci://ghcr.io/acme?plain_http=maybe", code: errcode.InvalidInput},
		{loc: "oci://user:pw@ghcr.io/acme", code: errcode.InvalidInput},
		{loc: "oci:///acme", code: errcode.InvalidInput},
		{loc: "oci://ghcr.io/acme?ca_file=" + filepath.Join(dir, "missing.pem"), code: errcode.InvalidInput},
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
	for _, s := range []string{"file:///tmp", "s3://b/p?region=x&endpoint=https://e", "./x", "/", "s3://b?path_style=maybe", "file://%zz", "oci://ghcr.io/a/b", "oci://[::1]:5000/x?plain_http=true"} {
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
		case "oci":
			if h, _ := r.Extensions["registry"].(string); h == "" {
				t.Fatalf("%q: oci without registry", loc)
			}
			if r.Extensions["plain_http"] == true && !r.Transport.AllowLoopbackHTTP {
				t.Fatalf("%q: plain http without the loopback allowance", loc)
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
