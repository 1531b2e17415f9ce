package config

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

const mergeBase = `
remotes:
  origin:
    source: acme/epack-remote-s3@v1
    adapter: s3
    insecure_endpoint: https://base.example
    auth: {mode: device_code, profile: base, insecure_endpoint: https://auth.base, oidc: {aud: base}, api_key: {env: BASE}}
    target: {workspace: ws, environment: prod}
    verify: {strict: true}
    release:
      labels: [a, b]
      notes: base notes
      source: {git: {sha_env: BASE_SHA}}
    runs: {sync: true, paths: [base/**/result.json], require_success: true}
    transport: {file_root: /srv/base, allow_loopback_http: true}
    extensions: {bucket: base}
    secrets: [BASE_TOKEN]
    credentials: [ci]
    timeout: 30s
credential_sets: {ci: {}}
`

// TestResolveRemoteMerge checks each row of the COMPAT §2.4 table and our
// extension (transport, runs.paths, extensions).
func TestResolveRemoteMerge(t *testing.T) {
	tests := []struct {
		name     string
		override string // YAML of environments.env.remotes.origin
		check    func(t *testing.T, r, base *Remote)
	}{
		{"empty override keeps base", `{}`, func(t *testing.T, r, base *Remote) {
			if !reflect.DeepEqual(r, base) {
				t.Errorf("got %+v\nwant %+v", r, base)
			}
		}},
		{"adapter replaced", `{adapter: other}`, func(t *testing.T, r, base *Remote) {
			if r.Adapter != "other" {
				t.Errorf("adapter = %q", r.Adapter)
			}
		}},
		{"adapter empty keeps base", `{adapter: ""}`, func(t *testing.T, r, base *Remote) {
			if r.Adapter != "s3" {
				t.Errorf("adapter = %q", r.Adapter)
			}
		}},
		{"target fields replaced one by one", `{target: {environment: staging}}`, func(t *testing.T, r, base *Remote) {
			if r.Target.Environment != "staging" || r.Target.Workspace != "ws" {
				t.Errorf("target = %+v", r.Target)
			}
		}},
		{"target workspace replaced", `{target: {workspace: w2}}`, func(t *testing.T, r, base *Remote) {
			if r.Target.Workspace != "w2" || r.Target.Environment != "prod" {
				t.Errorf("target = %+v", r.Target)
			}
		}},
		{"insecure_endpoint replaced", `{insecure_endpoint: https://env.example}`, func(t *testing.T, r, base *Remote) {
			if r.InsecureEndpoint != "https://env.example" {
				t.Errorf("insecure_endpoint = %q", r.InsecureEndpoint)
			}
		}},
		{"legacy endpoint in override folded", `{endpoint: " https://legacy.example "}`, func(t *testing.T, r, base *Remote) {
			if r.InsecureEndpoint != "https://legacy.example" || r.Endpoint != "" {
				t.Errorf("endpoint = %q / %q", r.InsecureEndpoint, r.Endpoint)
			}
		}},
		{"auth mode/profile/endpoint replaced, oidc and api_key kept", `{auth: {mode: oidc, profile: p2, endpoint: https://auth.env}}`, func(t *testing.T, r, base *Remote) {
			if r.Auth.Mode != "oidc" || r.Auth.Profile != "p2" || r.Auth.InsecureEndpoint != "https://auth.env" {
				t.Errorf("auth = %+v", r.Auth)
			}
			if !reflect.DeepEqual(r.Auth.OIDC, base.Auth.OIDC) || !reflect.DeepEqual(r.Auth.APIKey, base.Auth.APIKey) {
				t.Errorf("auth maps changed: %+v", r.Auth)
			}
		}},
		{"labels replaced not merged", `{release: {labels: [c]}}`, func(t *testing.T, r, base *Remote) {
			if !reflect.DeepEqual(r.Release.Labels, []string{"c"}) || r.Release.Notes != "base notes" {
				t.Errorf("release = %+v", r.Release)
			}
		}},
		{"empty labels keep base", `{release: {labels: []}}`, func(t *testing.T, r, base *Remote) {
			if !reflect.DeepEqual(r.Release.Labels, []string{"a", "b"}) {
				t.Errorf("labels = %v", r.Release.Labels)
			}
		}},
		{"notes replaced, release.source kept", `{release: {notes: env notes}}`, func(t *testing.T, r, base *Remote) {
			if r.Release.Notes != "env notes" || r.Release.Source == nil || r.Release.Source.Git.ShaEnv != "BASE_SHA" {
				t.Errorf("release = %+v", r.Release)
			}
		}},
		{"runs.sync false replaces", `{runs: {sync: false}}`, func(t *testing.T, r, base *Remote) {
			if r.RunsSyncEnabled() {
				t.Errorf("sync still on")
			}
		}},
		{"runs.require_success cannot be switched off", `{runs: {require_success: false}}`, func(t *testing.T, r, base *Remote) {
			if !r.Runs.RequireSuccess {
				t.Errorf("require_success switched off")
			}
		}},
		{"runs.paths replaced (extension)", `{runs: {paths: [env/*.json]}}`, func(t *testing.T, r, base *Remote) {
			if !reflect.DeepEqual(r.Runs.Paths, []string{"env/*.json"}) {
				t.Errorf("paths = %v", r.Runs.Paths)
			}
		}},
		{"transport.file_root replaced and made absolute (extension)", `{transport: {file_root: envreg}}`, func(t *testing.T, r, base *Remote) {
			if !filepath.IsAbs(r.Transport.FileRoot) || filepath.Base(r.Transport.FileRoot) != "envreg" {
				t.Errorf("file_root = %q", r.Transport.FileRoot)
			}
			if !r.Transport.AllowLoopbackHTTP {
				t.Errorf("allow_loopback_http lost")
			}
		}},
		{"transport.allow_loopback_http false replaces (extension)", `{transport: {allow_loopback_http: false}}`, func(t *testing.T, r, base *Remote) {
			if r.Transport.AllowLoopbackHTTP || r.Transport.FileRoot != "/srv/base" {
				t.Errorf("transport = %+v", r.Transport)
			}
		}},
		{"extensions replaced (extension)", `{extensions: {bucket: env, region: eu}}`, func(t *testing.T, r, base *Remote) {
			if !reflect.DeepEqual(r.Extensions, map[string]any{"bucket": "env", "region": "eu"}) {
				t.Errorf("extensions = %v", r.Extensions)
			}
		}},
		{"base-only fields untouched", `{adapter: x2, target: {workspace: w}}`, func(t *testing.T, r, base *Remote) {
			if r.Source != base.Source || !reflect.DeepEqual(r.Secrets, base.Secrets) || !reflect.DeepEqual(r.Credentials, base.Credentials) ||
				!r.Verify.Strict || r.Timeout != base.Timeout {
				t.Errorf("base-only fields changed: %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := mustLoad(t, mergeBase+"environments:\n  env:\n    remotes:\n      origin: "+tc.override+"\n  other: {}\n")
			base, err := c.ResolveRemote("origin", "")
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.ResolveRemote("origin", "env")
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != "origin" {
				t.Errorf("name = %q", r.Name)
			}
			tc.check(t, r, base)
			// The environment without an entry for the remote gives the base.
			o, err := c.ResolveRemote("origin", "other")
			if err != nil || !reflect.DeepEqual(o, base) {
				t.Errorf("other env: %v %+v", err, o)
			}
		})
	}
}

func TestResolveRemoteIsDeepCopy(t *testing.T) {
	c, _ := mustLoad(t, mergeBase)
	r, err := c.ResolveRemote("origin", "")
	if err != nil {
		t.Fatal(err)
	}
	r.Secrets[0] = "CHANGED"
	r.Release.Labels[0] = "CHANGED"
	r.Extensions["bucket"] = "CHANGED"
	r.Auth.OIDC["aud"] = "CHANGED"
	*r.Runs.Sync = false
	r.Release.Source.Git.ShaEnv = "CHANGED"
	b := c.Remotes["origin"]
	if b.Secrets[0] != "BASE_TOKEN" || b.Release.Labels[0] != "a" || b.Extensions["bucket"] != "base" ||
		b.Auth.OIDC["aud"] != "base" || !*b.Runs.Sync || b.Release.Source.Git.ShaEnv != "BASE_SHA" {
		t.Fatalf("base changed through the copy: %+v", b)
	}
}

func TestResolveRemoteErrors(t *testing.T) {
	c, _ := mustLoad(t, mergeBase+"environments:\n  staging: {}\n")
	_, err := c.ResolveRemote("nope", "")
	if errcode.Of(err) != errcode.RemoteNotFound || err.Error() != `remote "nope" not found in config` {
		t.Errorf("unknown remote: %v", err)
	}
	if h := errcode.HintOf(err); !strings.Contains(h, "origin") {
		t.Errorf("hint %q does not list remotes", h)
	}
	_, err = c.ResolveRemote("origin", "prod")
	if errcode.Of(err) != errcode.ConfigInvalid || err.Error() != `environment "prod" not found in config` {
		t.Errorf("unknown env: %v", err)
	}
	if h := errcode.HintOf(err); !strings.Contains(h, "staging") {
		t.Errorf("hint %q does not list environments", h)
	}
}

// A hand-built Config (no Load) still merges: non-zero values override.
func TestResolveRemoteHandBuilt(t *testing.T) {
	tr := true
	c := &Config{
		Remotes: map[string]*Remote{"o": {Adapter: "x", Extensions: map[string]any{"a": 1}}},
		Environments: map[string]*Environment{"e": {Remotes: map[string]*Remote{"o": {
			Endpoint: "https://legacy", Transport: RemoteTransport{AllowLoopbackHTTP: true}, Runs: RemoteRuns{Sync: &tr},
		}}}},
	}
	r, err := c.ResolveRemote("o", "e")
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "o" || r.InsecureEndpoint != "https://legacy" || !r.Transport.AllowLoopbackHTTP || r.Extensions["a"] != 1 {
		t.Errorf("got %+v", r)
	}
}

func TestAdapterName(t *testing.T) {
	for _, tc := range []struct {
		r    Remote
		want string
	}{
		{Remote{Adapter: "x", Source: "a/epack-remote-y@v1"}, "x"},
		{Remote{Source: "locktivity/epack-remote-locktivity@^0.1.0"}, "locktivity"},
		{Remote{Source: "github.com/o/epack-remote-s3"}, "s3"},
		{Remote{Source: "plain@v1"}, "plain"},
		{Remote{Source: "o/r@v1/x"}, "r"},
		{Remote{Binary: "/opt/bin/epack-remote-fs"}, "fs"},
		{Remote{}, ""},
	} {
		if got := tc.r.AdapterName(); got != tc.want {
			t.Errorf("%+v: AdapterName = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestCheckedEndpoints(t *testing.T) {
	r := &Remote{Name: "o"}
	eps, err := r.CheckedEndpoints()
	if err != nil || eps != (Endpoints{}) {
		t.Fatalf("no override: %v %v", eps, err)
	}
	r.InsecureEndpoint = " https://api.example/v1 "
	eps, err = r.CheckedEndpoints()
	if err != nil || eps != (Endpoints{API: "https://api.example/v1"}) {
		t.Fatalf("endpoint only: %v %v", eps, err)
	}
	r.Auth.InsecureEndpoint = "https://auth.example"
	eps, err = r.CheckedEndpoints()
	if err != nil || eps.API != "https://api.example/v1" || eps.Auth != "https://auth.example" {
		t.Fatalf("both: %v %v", eps, err)
	}
	for _, bad := range []struct{ url, want string }{
		{"http://api.example", "must use HTTPS"},
		{"https://", "no host"},
		{"https://user:pw@api.example", "credentials"},
		{"https://api.example/?a=b", "query"},
		{"https://api.example/?", "query"},
		{"https://api.example/#x", "fragment"},
		{"ftp://api.example", "must use HTTPS"},
		{"api.example", "must use HTTPS"},
	} {
		r := &Remote{Name: "o", InsecureEndpoint: bad.url}
		_, err := r.CheckedEndpoints()
		if err == nil || errcode.Of(err) != errcode.ConfigInvalid || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "insecure_endpoint") {
			t.Errorf("%q: err = %v, want %q", bad.url, err, bad.want)
		}
		if strings.Contains(bad.url, "pw") && strings.Contains(err.Error(), "pw") {
			t.Errorf("error leaks the password: %v", err)
		}
		r = &Remote{Name: "o", Auth: RemoteAuth{InsecureEndpoint: bad.url}}
		if _, err := r.CheckedEndpoints(); err == nil || !strings.Contains(err.Error(), "auth.insecure_endpoint") {
			t.Errorf("auth %q: err = %v", bad.url, err)
		}
	}
}

func TestExtensionsAreJSONReady(t *testing.T) {
	c, _ := mustLoad(t, "remotes:\n  o:\n    adapter: x\n    extensions:\n      ports: {1: a, true: b}\n      list: [{2: c}]\n      bucket: b\n")
	b, err := json.Marshal(c.Remotes["o"].Extensions)
	if err != nil {
		t.Fatalf("extensions not JSON-encodable: %v", err)
	}
	if got := string(b); got != `{"bucket":"b","list":[{"2":"c"}],"ports":{"1":"a","true":"b"}}` {
		t.Errorf("json = %s", got)
	}
}

func TestErrorsCarryHints(t *testing.T) {
	for _, yml := range []string{
		"remotes:\n  Bad: {adapter: x}\n",
		"remotes:\n  o: {adapter: x, bucket: y}\n",
		"remotes:\n  o: {target: {workspace: w}}\n",
		"remotes:\n  o: {adapter: x, secrets: [LD_PRELOAD]}\n",
		"remotes:\n  o: {adapter: x, credentials: [ci]}\n",
		"remotes:\n  o: {adapter: x}\nenvironments:\n  e:\n    remotes:\n      o: {source: a/b}\n",
	} {
		_, err := Load(writeProject(t, yml))
		if err == nil || errcode.HintOf(err) == "" {
			t.Errorf("%q: err %v has no hint", yml, err)
		}
	}
}
