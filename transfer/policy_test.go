package transfer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestCheckURLTable(t *testing.T) {
	off := Policy{}
	on := Policy{AllowLoopbackHTTP: true}
	root := filepath.Join(t.TempDir(), "storage", "packs")
	withRoot := Policy{FileRoot: root}

	type tc struct {
		raw  string
		p    Policy
		code errcode.Code // "" = allowed
	}
	cases := []tc{
		// https: any host, any port, cloud hosts, private IPs, queries.
		{"https://example.com/pack.epack", off, ""},
		{"https://example.com:8443/pack.epack", off, ""},
		{"https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc", off, ""},
		{"https://storage.googleapis.com/b/o", off, ""},
		{"https://acct.blob.core.windows.net/c/b?sv=1&sig=x", off, ""},
		{"https://192.168.1.1/x", off, ""},
		{"https://10.0.0.1:9000/x", off, ""},
		{"https://[fd00::1]/x", off, ""},
		{"https://example.com/a/../b", off, ""},     // only logged upstream
		{"https://example.com/a%2f..%2fb", off, ""}, // only logged upstream
		{"https://rebind.example.com/x", off, ""},
		{"HTTPS://EXAMPLE.COM/x", off, ""},
		// http to loopback: only with the opt-in.
		{"http://localhost/x", off, errcode.URLNotAllowed},
		{"http://localhost/x", on, ""},
		{"http://localhost:9000/x", off, errcode.URLNotAllowed},
		{"http://localhost:9000/x", on, ""},
		{"http://127.0.0.1/x", off, errcode.URLNotAllowed},
		{"http://127.0.0.1/x", on, ""},
		{"http://127.0.0.1:9000/x", off, errcode.URLNotAllowed},
		{"http://127.0.0.1:9000/x", on, ""},
		{"http://[::1]/x", off, errcode.URLNotAllowed},
		{"http://[::1]/x", on, ""},
		{"http://[::1]:8080/x", off, errcode.URLNotAllowed},
		{"http://[::1]:8080/x", on, ""},
		// http anywhere else: never.
		{"http://example.com/x", on, errcode.URLNotAllowed},
		{"http://example.com:80/x", on, errcode.URLNotAllowed},
		{"http://cdn.example.net/x", on, errcode.URLNotAllowed},
		{"http://169.254.169.254/latest/meta-data/", on, errcode.URLNotAllowed},
		{"http://[fd00::1]/x", on, errcode.URLNotAllowed},
		{"http://localhost.com/x", on, errcode.URLNotAllowed},
		{"http://localhost.example.com/x", on, errcode.URLNotAllowed},
		{"http://127.0.0.2/x", on, errcode.URLNotAllowed},
		{"http://0x7f000001/x", on, errcode.URLNotAllowed},
		{"http://2130706433/x", on, errcode.URLNotAllowed},
		{"http://[::ffff:127.0.0.1]/x", on, errcode.URLNotAllowed},
		{"http://192.168.1.1/x", on, errcode.URLNotAllowed},
		{"http:///x", on, errcode.URLNotAllowed},
		// User info is refused everywhere.
		{"https://user:pass@example.com/x", off, errcode.URLNotAllowed},
		{"https://user@example.com/x", off, errcode.URLNotAllowed},
		{"http://user@127.0.0.1/x", on, errcode.URLNotAllowed},
		{"https://127.0.0.1@evil.example/x", off, errcode.URLNotAllowed},
		// Other schemes and junk.
		{"ftp://example.com/x", on, errcode.URLNotAllowed},
		{"file:///tmp/x", on, errcode.URLNotAllowed},
		{"s3://bucket/key", on, errcode.URLNotAllowed},
		{"gs://bucket/key", on, errcode.URLNotAllowed},
		{"javascript:alert(1)", on, errcode.URLNotAllowed},
		{"data:text/plain,hello", on, errcode.URLNotAllowed},
		{"", on, errcode.URLNotAllowed},
		{"   ", on, errcode.URLNotAllowed},
		{" https://example.com/x", on, errcode.URLNotAllowed},
		{"https://example.com/x\n", on, errcode.URLNotAllowed},
		{"example.com/x", on, errcode.URLNotAllowed},
		{"not-a-url", on, errcode.URLNotAllowed},
		{"://invalid", on, errcode.URLNotAllowed},
		{"https://", on, errcode.URLNotAllowed},
		{"https:example.com", on, errcode.URLNotAllowed},
		{"https://exa mple.com/", on, errcode.URLNotAllowed},
		// file:// under file_root.
		{"file://" + root + "/a.epack", withRoot, ""},
		{"file://" + root + "/blobs/sha256/abc", withRoot, ""},
		{"file://localhost" + root + "/a.epack", withRoot, ""},
		{"file://" + root, withRoot, ""},
		{"file://" + root + "/", withRoot, ""},
		{"file://" + root + "/x/../y", withRoot, ""},
		{"file://" + root + "/../evil", withRoot, errcode.PathTraversal},
		{"file://" + root + "/a/../../evil", withRoot, errcode.PathTraversal},
		{"file://" + root + "%2f..%2f..%2fevil", withRoot, errcode.PathTraversal},
		{"file:///etc/passwd", withRoot, errcode.PathTraversal},
		{"file://" + filepath.Dir(root) + "/other/x", withRoot, errcode.PathTraversal},
		{"file://" + root + "-evil/x", withRoot, errcode.PathTraversal},
		{"file://evil.example" + root + "/a.epack", withRoot, errcode.URLNotAllowed},
		{"file:relative/x", withRoot, errcode.URLNotAllowed},
		{"file://" + root + "/a.epack", on, errcode.URLNotAllowed},
		{"file://user@" + root + "/a", withRoot, errcode.URLNotAllowed},
		// file_root does not open http.
		{"http://127.0.0.1/x", withRoot, errcode.URLNotAllowed},
	}
	for _, c := range cases {
		name := c.raw
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			u, err := CheckURL(c.raw, c.p)
			if c.code == "" {
				if err != nil || u == nil {
					t.Fatalf("CheckURL(%q) = %v, want allowed", c.raw, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckURL(%q) allowed, want %s", c.raw, c.code)
			}
			if errcode.Of(err) != c.code {
				t.Fatalf("CheckURL(%q) = %v (%s), want %s", c.raw, err, errcode.Of(err), c.code)
			}
		})
	}
}

func TestCheckURLFileRootMessage(t *testing.T) {
	_, err := CheckURL("file:///tmp/x.epack", Policy{})
	if err == nil || !strings.Contains(err.Error(), "file_root") {
		t.Fatalf("error %v should mention file_root", err)
	}
	if errcode.HintOf(err) == "" {
		t.Fatal("missing hint")
	}
	_, err = CheckURL("http://127.0.0.1/x", Policy{})
	if errcode.HintOf(err) == "" || !strings.Contains(errcode.HintOf(err), "allow_loopback_http") {
		t.Fatalf("hint %q", errcode.HintOf(err))
	}
}

func TestCheckURLRedactsQuery(t *testing.T) {
	_, err := CheckURL("ftp://example.com/x?X-Amz-Signature=secret", Policy{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("%v", err)
	}
	_, err = CheckURL("https://u:hunter2@example.com/x", Policy{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
}

func TestContainedPath(t *testing.T) {
	cases := []struct {
		root, path string
		ok         bool
	}{
		{"/storage/packs", "/storage/packs/a.epack", true},
		{"/storage/packs", "/storage/packs/x/y/z.epack", true},
		{"/storage/packs", "/storage/packs", true},
		{"/storage/packs/", "/storage/packs/a.epack", true},
		{"/storage/packs/", "/storage/packs", true},
		{"/storage/packs", "/storage/packs/../evil", false},
		{"/storage/packs", "/etc/passwd", false},
		{"/storage/packs", "/storage/other/a", false},
		{"/storage/packs", "/storage/packs-evil/a", false},
		{"/storage/packs", "/storage/packs-evil", false},
		{"/storage/packs", "/storage", false},
		{"/", "/anything/at/all", true},
		{"packs", "packs/a.epack", true},
		{"packs", "packs", true},
		{"packs", "../escape", false},
		{"packs", "packs/../../escape", false},
		{"./packs/", "packs/sub/a", true},
	}
	for _, c := range cases {
		_, err := containedPath(c.root, c.path)
		if c.ok && err != nil {
			t.Errorf("containedPath(%q, %q) = %v, want ok", c.root, c.path, err)
		}
		if !c.ok && errcode.Of(err) != errcode.PathTraversal {
			t.Errorf("containedPath(%q, %q) = %v, want path_traversal", c.root, c.path, err)
		}
	}
}

func TestRelativeFileRootIsAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, dest, err := checkURL("file://"+dir+"/packs/a.epack", Policy{FileRoot: "packs"})
	if err != nil || dest != filepath.Join(dir, "packs", "a.epack") {
		t.Fatalf("dest %q err %v", dest, err)
	}
	_, _, err = checkURL("file://"+dir+"/other/a.epack", Policy{FileRoot: "packs"})
	if errcode.Of(err) != errcode.PathTraversal {
		t.Fatalf("err %v", err)
	}
}
