package remote

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
)

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestAdapterEnvironment(t *testing.T) {
	p := newProject(t)
	// The adapter writes its environment (NUL separated) and CWD into the CWD.
	body := `env -0 > env.cmd; pwd > cwd.txt; printf '{"ok":true,"type":"auth.whoami.result","request_id":"%s","identity":{"authenticated":false}}' "$ID"`
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", body)
	src, _ := os.ReadFile(bin)
	os.WriteFile(bin, []byte(strings.Replace(string(src), "echo $$ > adapter.pid\n", "echo $$ > adapter.pid\nenv -0 > env.$1\n", 1)), 0o755)
	p.pin("origin", bin)

	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	t.Setenv("LD_PRELOAD", "/evil.so")
	t.Setenv("MY_TOKEN", "tok-123")
	t.Setenv("EMPTY_SECRET", "")
	t.Setenv("HOME", "/home/tester")
	t.Setenv("HTTPS_PROXY", "http://user:pass@proxy.example:3128")
	t.Setenv("http_proxy", "proxy.example:8080")
	t.Setenv("EPACK_SOMETHING", "x")
	r := p.remote("origin", bin)
	r.Secrets = []string{"MY_TOKEN", "EMPTY_SECRET", "UNSET_SECRET", "EPACK_SOMETHING"}
	r.InsecureEndpoint = "https://api.example.com/v1"
	r.Auth.InsecureEndpoint = "https://auth.example.com"
	r.Transport.FileRoot = filepath.Join(p.root, "reg")
	r.Extensions = map[string]any{"bucket": "b", "n": []any{1, 2}}
	var stderr syncBuffer
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(stderr.String(), "WARNING: Running with custom remote endpoint https://api.example.com/v1.") {
		t.Fatalf("stderr %q", stderr.String())
	}

	env := readEnvFile(t, filepath.Join(p.root, "env.cmd"))
	for k, want := range map[string]string{
		"MY_TOKEN":                      "tok-123",
		"HOME":                          "/home/tester",
		"HTTPS_PROXY":                   "http://proxy.example:3128",
		"http_proxy":                    "proxy.example:8080",
		"EPACK_REMOTE_PROTOCOL_VERSION": "1",
		"EPACK_REMOTE_NAME":             "origin",
		"EPACK_REMOTE_FILE_ROOT":        filepath.Join(p.root, "reg"),
		"EPACK_REMOTE_ENDPOINT":         "https://api.example.com/v1",
		"EPACK_REMOTE_AUTH_ENDPOINT":    "https://auth.example.com",
		"PATH":                          os.Getenv("PATH"),
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(env["EPACK_REMOTE_CONFIG"]), &cfg); err != nil || cfg["bucket"] != "b" {
		t.Errorf("EPACK_REMOTE_CONFIG %q", env["EPACK_REMOTE_CONFIG"])
	}
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "LD_PRELOAD", "EMPTY_SECRET", "UNSET_SECRET", "EPACK_SOMETHING"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s leaked into the adapter env (%q)", k, v)
		}
	}
	cwd, _ := os.ReadFile(filepath.Join(p.root, "cwd.txt"))
	if strings.TrimSpace(string(cwd)) != p.root {
		t.Errorf("cwd %q, want %q", cwd, p.root)
	}

	// --capabilities sees no secrets and no endpoints, but our own variables.
	caps := readEnvFile(t, filepath.Join(p.root, "env.--capabilities"))
	for _, k := range []string{"MY_TOKEN", "EPACK_REMOTE_ENDPOINT", "AWS_SECRET_ACCESS_KEY"} {
		if _, ok := caps[k]; ok {
			t.Errorf("capabilities env has %s", k)
		}
	}
	if caps["EPACK_REMOTE_PROTOCOL_VERSION"] != "1" || caps["EPACK_REMOTE_NAME"] != "origin" || caps["HOME"] != "/home/tester" {
		t.Errorf("capabilities env %v", caps)
	}
	if caps["EPACK_REMOTE_CONFIG"] == "" {
		t.Errorf("capabilities env lacks EPACK_REMOTE_CONFIG")
	}
}

func TestStripProxyCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pass@proxy:3128":         "http://proxy:3128",
		"http://user@proxy:3128/p?q=1":        "http://proxy:3128/p?q=1",
		"socks5://u:p@127.0.0.1:1080":         "socks5://127.0.0.1:1080",
		"proxy.example:8080":                  "proxy.example:8080",
		"user:pw@proxy.example:8080":          "proxy.example:8080",
		"http://proxy.example":                "http://proxy.example",
		"http://us%zzer:pa@ss@proxy.example/": "http://proxy.example/",
		// An empty user part is still dropped, with its '@'.
		"@proxy.example:8080": "proxy.example:8080",
		"http://@host/%zz":    "http://host/%zz",
		// Unparseable: only an '@' before the path ends the credentials.
		"http:///%zz@host":          "http:///%zz@host",
		"http://u%zz:p@host/path@x": "http://host/path@x",
	} {
		if got := stripProxyCredentials(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestEmptyExtensionsConfig(t *testing.T) {
	env, _ := buildEnv(envSpec{parent: []string{"PATH=/bin", "path=/other", "FOO=bar"}, remote: p0()})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	if got["EPACK_REMOTE_CONFIG"] != "{}" || got["PATH"] != "/bin" || got["FOO"] != "" || len(got) != 4 {
		t.Fatalf("%v", got)
	}
}

func p0() *config.Remote { return &config.Remote{Name: "r"} }

func TestRelativeFileRootAgainstProjectRoot(t *testing.T) {
	r := &config.Remote{Name: "r", Transport: config.RemoteTransport{FileRoot: ".epack/registry"}}
	env, _ := buildEnv(envSpec{root: "/proj", remote: r})
	found := false
	for _, kv := range env {
		if kv == "EPACK_REMOTE_FILE_ROOT=/proj/.epack/registry" {
			found = true
		}
	}
	if !found {
		t.Fatalf("%v", env)
	}
}
