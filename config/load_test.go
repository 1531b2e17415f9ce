package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// writeProject creates a temp project with the given epack.yaml and returns its root.
func writeProject(t *testing.T, yml string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ConfigFileName), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func mustLoad(t *testing.T, yml string) (*Config, string) {
	t.Helper()
	root := writeProject(t, yml)
	c, err := Load(root)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, root
}

func TestLoadValid(t *testing.T) {
	c, root := mustLoad(t, `
stream: acme/prod
collectors: {github: {source: x/y@v1}}
tools: [a, b]
remotes:
  origin:
    source: locktivity/epack-remote-locktivity@^0.1.0
    insecure_endpoint: " https://api.example/v1 "
    auth:
      mode: device_code
      endpoint: https://auth.example
      oidc: {provider: github_actions, audience: x}
      api_key: {env: MY_KEY}
    target: {workspace: acme, environment: prod}
    verify: {pack: true, strict: false}
    release:
      labels: [monthly]
      notes: hello
      source:
        git: {sha_env: GITHUB_SHA, repo_env: GITHUB_REPOSITORY}
        ci: {run_url_env: GITHUB_RUN_URL}
    runs: {sync: false, paths: ["tools/**/result.json"], require_success: true}
    transport: {file_root: reg/../registry, allow_loopback_http: true}
    extensions: {bucket: b, nested: {a: [1, 2]}}
    secrets: [GITHUB_TOKEN, PATH, HOME]
    credentials: [ci]
    timeout: 90s
  local:
    binary: bin/epack-remote-filesystem
credential_sets:
  ci: {provider: github}
platforms: [linux/amd64, darwin/arm64]
`)
	o := c.Remotes["origin"]
	if o == nil || o.Name != "origin" {
		t.Fatalf("origin missing or unnamed: %+v", o)
	}
	if c.Stream != "acme/prod" || len(c.Platforms) != 2 {
		t.Errorf("stream/platforms: %q %v", c.Stream, c.Platforms)
	}
	if o.InsecureEndpoint != "https://api.example/v1" || o.Auth.InsecureEndpoint != "https://auth.example" || o.Auth.Endpoint != "" {
		t.Errorf("endpoints not folded: %+v", o)
	}
	if got, want := o.Transport.FileRoot, filepath.Join(root, "registry"); got != want {
		t.Errorf("file_root = %q, want %q", got, want)
	}
	if got, want := c.Remotes["local"].Binary, filepath.Join(root, "bin/epack-remote-filesystem"); got != want {
		t.Errorf("binary = %q, want %q", got, want)
	}
	if o.Timeout.Std().Seconds() != 90 {
		t.Errorf("timeout = %v", o.Timeout)
	}
	if o.RunsSyncEnabled() || !c.Remotes["local"].RunsSyncEnabled() {
		t.Errorf("RunsSyncEnabled wrong")
	}
	if strings.Join(o.Secrets, ",") != "GITHUB_TOKEN,PATH,HOME" {
		t.Errorf("secrets order: %v", o.Secrets)
	}
	if o.Release.Source == nil || o.Release.Source.Git.ShaEnv != "GITHUB_SHA" || o.Release.Source.CI.RunURLEnv != "GITHUB_RUN_URL" {
		t.Errorf("release.source: %+v", o.Release.Source)
	}
	if o.Verify.Pack == nil || !*o.Verify.Pack {
		t.Errorf("verify.pack")
	}
	if o.AdapterName() != "locktivity" || c.Remotes["local"].AdapterName() != "filesystem" {
		t.Errorf("adapter names: %q %q", o.AdapterName(), c.Remotes["local"].AdapterName())
	}
}

func TestLoadSecretsForms(t *testing.T) {
	c, _ := mustLoad(t, `
remotes:
  a: {adapter: x, secrets: [ONE, TWO, THREE]}
  b: {adapter: x}
  c: {adapter: x, secrets: []}
`)
	if len(c.Remotes["a"].Secrets) != 3 || len(c.Remotes["b"].Secrets) != 0 || len(c.Remotes["c"].Secrets) != 0 {
		t.Fatalf("secrets: %v %v %v", c.Remotes["a"].Secrets, c.Remotes["b"].Secrets, c.Remotes["c"].Secrets)
	}
}

// TestLoadErrors checks every validation rule: the code, and that the
// message names the offending key (and the line where one is given).
func TestLoadErrors(t *testing.T) {
	long := strings.Repeat("a", 65)
	many := "remotes:\n"
	for i := 0; i < 101; i++ {
		many += fmt.Sprintf("  r%03d: {adapter: x}\n", i)
	}
	tests := []struct {
		name string
		yml  string
		code errcode.Code
		want []string
	}{
		{"nothing configured", "stream: x\n", errcode.ConfigInvalid, []string{"no remotes"}},
		{"empty file", "", errcode.ConfigInvalid, []string{"no remotes"}},
		{"top level not a map", "- a\n- b\n", errcode.ConfigInvalid, []string{"top level"}},
		{"invalid yaml", "remotes: [\n", errcode.ConfigInvalid, []string{"invalid YAML"}},
		{"uppercase remote name", "remotes:\n  Origin: {adapter: x}\n", errcode.ConfigInvalid, []string{"epack.yaml:2:", `"Origin"`, "remote name"}},
		{"remote name with ..", "remotes:\n  a..b: {adapter: x}\n", errcode.ConfigInvalid, []string{`"a..b"`, `".."`}},
		{"remote name dot", "remotes:\n  '.': {adapter: x}\n", errcode.ConfigInvalid, []string{`"."`}},
		{"remote name leading dash", "remotes:\n  -a: {adapter: x}\n", errcode.ConfigInvalid, []string{`"-a"`}},
		{"remote name too long", "remotes:\n  " + long + ": {adapter: x}\n", errcode.ConfigInvalid, []string{long}},
		{"too many remotes", many, errcode.ConfigInvalid, []string{"remotes", "at most 100"}},
		{"adapter name invalid", "remotes:\n  a: {adapter: Bad_Name}\n", errcode.ConfigInvalid, []string{"epack.yaml:2:", "adapter", `"Bad_Name"`}},
		{"adapter name ..", "remotes:\n  a: {adapter: x..y}\n", errcode.ConfigInvalid, []string{"adapter", `".."`}},
		{"source and binary", "remotes:\n  a:\n    source: o/r@v1\n    binary: /x\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", "source and binary"}},
		{"adapter required", "remotes:\n  a:\n    target: {workspace: w}\n", errcode.ConfigInvalid, []string{`remote "a"`, "adapter is required"}},
		{"null remote", "remotes:\n  a:\n", errcode.ConfigInvalid, []string{`remote "a"`, "adapter is required"}},
		{"endpoint conflict", "remotes:\n  a:\n    adapter: x\n    endpoint: https://a\n    insecure_endpoint: https://b\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", "endpoint and insecure_endpoint cannot both be set"}},
		{"auth endpoint conflict", "remotes:\n  a:\n    adapter: x\n    auth:\n      endpoint: https://a\n      insecure_endpoint: https://b\n", errcode.ConfigInvalid, []string{"epack.yaml:5:", "auth.endpoint and auth.insecure_endpoint"}},
		{"secret EPACK_", "remotes:\n  a: {adapter: x, secrets: [EPACK_TOKEN]}\n", errcode.ConfigInvalid, []string{"secrets", "EPACK_TOKEN"}},
		{"secret epack_ lowercase", "remotes:\n  a: {adapter: x, secrets: [epack_token]}\n", errcode.ConfigInvalid, []string{"secrets", "epack_token"}},
		{"secret LD_PRELOAD", "remotes:\n  a: {adapter: x, secrets: [LD_PRELOAD]}\n", errcode.ConfigInvalid, []string{"secrets", "LD_PRELOAD"}},
		{"secret DYLD_", "remotes:\n  a: {adapter: x, secrets: [DyLd_X]}\n", errcode.ConfigInvalid, []string{"secrets", "DyLd_X"}},
		{"secret underscore", "remotes:\n  a: {adapter: x, secrets: [_X]}\n", errcode.ConfigInvalid, []string{"secrets", "_X"}},
		{"secret empty", "remotes:\n  a: {adapter: x, secrets: ['']}\n", errcode.ConfigInvalid, []string{"secrets", "empty"}},
		{"secret with =", "remotes:\n  a: {adapter: x, secrets: ['A=B']}\n", errcode.ConfigInvalid, []string{"secrets", "A=B"}},
		{"all bad secrets reported", "remotes:\n  a: {adapter: x, secrets: [LD_A, OK, EPACK_B]}\n", errcode.ConfigInvalid, []string{"LD_A", "EPACK_B"}},
		{"credentials undeclared", "remotes:\n  a: {adapter: x, credentials: [ci]}\n", errcode.ConfigInvalid, []string{"credentials", `"ci"`, "credential_sets"}},
		{"credentials other set", "credential_sets: {other: {}}\nremotes:\n  a: {adapter: x, credentials: [ci]}\n", errcode.ConfigInvalid, []string{"credentials", `"ci"`}},
		{"oidc secret with credentials", "credential_sets: {ci: {}}\nremotes:\n  a: {adapter: x, credentials: [ci], secrets: [ACTIONS_ID_TOKEN_REQUEST_TOKEN]}\n", errcode.ConfigInvalid, []string{"secrets", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "credentials"}},
		{"credential set name invalid", "credential_sets: {Bad: {}}\nremotes:\n  a: {adapter: x}\n", errcode.ConfigInvalid, []string{"credential_sets", `"Bad"`}},
		{"timeout not duration", "remotes:\n  a: {adapter: x, timeout: soon}\n", errcode.ConfigInvalid, []string{"timeout", "soon"}},
		{"timeout integer", "remotes:\n  a: {adapter: x, timeout: 90}\n", errcode.ConfigInvalid, []string{"timeout"}},
		{"timeout zero", "remotes:\n  a: {adapter: x, timeout: 0s}\n", errcode.ConfigInvalid, []string{"timeout", "positive"}},
		{"timeout negative", "remotes:\n  a: {adapter: x, timeout: -5s}\n", errcode.ConfigInvalid, []string{"timeout", "positive"}},
		{"timeout too long", "remotes:\n  a: {adapter: x, timeout: 2h}\n", errcode.ConfigInvalid, []string{"timeout", "maximum"}},
		{"unknown remote key", "remotes:\n  origin:\n    adapter: x\n    bucket: b\n", errcode.ConfigInvalid, []string{`epack.yaml:4: remote "origin": unknown key "bucket"`}},
		{"unknown target key", "remotes:\n  origin:\n    adapter: x\n    target:\n      workspace: w\n      region: r\n", errcode.ConfigInvalid, []string{`epack.yaml:6: remote "origin": unknown key "region" in target`}},
		{"unknown nested key", "remotes:\n  o:\n    adapter: x\n    release:\n      source:\n        git: {sha: X}\n", errcode.ConfigInvalid, []string{"epack.yaml:6:", `unknown key "sha" in release.source.git`}},
		{"unknown runs key", "remotes:\n  o:\n    adapter: x\n    runs: {sync: true, path: [x]}\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", `unknown key "path" in runs`}},
		{"wrong type string", "remotes:\n  o:\n    adapter: [x]\n", errcode.ConfigInvalid, []string{"epack.yaml:3:", "adapter"}},
		{"wrong type bool", "remotes:\n  o:\n    adapter: x\n    runs: {sync: maybe}\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", "runs.sync"}},
		{"section not a map", "remotes:\n  o:\n    adapter: x\n    target: prod\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", "target must be a mapping"}},
		{"remote not a map", "remotes:\n  o: x\n", errcode.ConfigInvalid, []string{`remote "o"`, "mapping"}},
		{"remotes not a map", "remotes: [a]\n", errcode.ConfigInvalid, []string{"remotes must be a mapping"}},
		{"duplicate remote", "remotes:\n  o: {adapter: x}\n  o: {adapter: y}\n", errcode.ConfigInvalid, []string{"epack.yaml:3:", `"o"`, "more than once"}},
		{"duplicate key in remote", "remotes:\n  o:\n    adapter: x\n    adapter: y\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", `"adapter"`, "more than once"}},
		{"bad platform", "platforms: [linux-amd64]\nremotes:\n  o: {adapter: x}\n", errcode.ConfigInvalid, []string{"platforms", "linux-amd64"}},
		{"empty run path", "remotes:\n  o: {adapter: x, runs: {paths: ['']}}\n", errcode.ConfigInvalid, []string{"runs.paths"}},
		{"stream wrong type", "stream: {a: b}\nremotes:\n  o: {adapter: x}\n", errcode.ConfigInvalid, []string{"epack.yaml:1:", "stream"}},
		// environments
		{"env name invalid", "remotes:\n  o: {adapter: x}\nenvironments:\n  Prod: {}\n", errcode.ConfigInvalid, []string{"epack.yaml:4:", "environment name", `"Prod"`}},
		{"env unknown remote", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      other: {adapter: y}\n", errcode.ConfigInvalid, []string{"epack.yaml:6:", `"other"`, "not defined"}},
		{"env unknown key", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        bucket: b\n", errcode.ConfigInvalid, []string{`epack.yaml:7: environment "prod" remote "o": unknown key "bucket"`}},
		{"env unknown nested key", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        transport: {root: b}\n", errcode.ConfigInvalid, []string{"epack.yaml:7:", `unknown key "root" in transport`}},
		{"env endpoint conflict", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        endpoint: https://a\n        insecure_endpoint: https://b\n", errcode.ConfigInvalid, []string{"epack.yaml:7:", `environment "prod" remote "o"`, "endpoint and insecure_endpoint cannot both be set"}},
		{"env auth endpoint conflict", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        auth: {endpoint: https://a, insecure_endpoint: https://b}\n", errcode.ConfigInvalid, []string{"auth.endpoint and auth.insecure_endpoint"}},
		{"env adapter invalid", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {adapter: 'A B'}\n", errcode.ConfigInvalid, []string{"adapter", `"A B"`}},
		{"env source not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {source: a/b@v1}\n", errcode.ConfigInvalid, []string{"epack.yaml:6:", `"source" cannot be set in an environment override`}},
		{"env secrets not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {secrets: [A]}\n", errcode.ConfigInvalid, []string{`"secrets" cannot be set`}},
		{"env release.source not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        release: {source: {git: {sha_env: X}}}\n", errcode.ConfigInvalid, []string{`"release.source" cannot be set`}},
		{"env auth.oidc not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o:\n        auth: {oidc: {a: b}}\n", errcode.ConfigInvalid, []string{`"auth.oidc" cannot be set`}},
		{"env verify.pack not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {verify: {pack: false}}\n", errcode.ConfigInvalid, []string{`"verify.pack" cannot be set`}},
		{"signer key and identity", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{key: k.pub, issuer: i, subject: s}]}\n", errcode.ConfigInvalid, []string{"verify.signers[0] names both a key and an identity"}},
		{"signer empty", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{}]}\n", errcode.ConfigInvalid, []string{"verify.signers[0] is empty"}},
		{"signer no subject", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{issuer: https://x}]}\n", errcode.ConfigInvalid, []string{"names no subject"}},
		{"signer no issuer", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{subject_regexp: x}]}\n", errcode.ConfigInvalid, []string{"names no issuer"}},
		{"signer bad regexp", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{issuer: i, subject_regexp: \"(\"}]}\n", errcode.ConfigInvalid, []string{"subject_regexp"}},
		{"signer unknown key", "remotes:\n  o:\n    adapter: x\n    verify: {signers: [{keyfile: k.pub}]}\n", errcode.ConfigInvalid, []string{"keyfile"}},
		{"env signer empty", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {verify: {signers: [{}]}}\n", errcode.ConfigInvalid, []string{"verify.signers[0] is empty"}},
		{"env timeout not overridable", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes:\n      o: {timeout: 5s}\n", errcode.ConfigInvalid, []string{`"timeout" cannot be set`}},
		{"env remotes not a map", "remotes:\n  o: {adapter: x}\nenvironments:\n  prod:\n    remotes: [o]\n", errcode.ConfigInvalid, []string{`environment "prod"`, "remotes must be a mapping"}},
		// YAML safety
		{"alias ratio", "a: &a x\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nremotes:\n  o: {adapter: x}\n", errcode.ConfigInvalid, []string{"unsafe YAML", "aliases"}},
		{"self alias", "a: &a [*a]\nremotes:\n  o: {adapter: x}\n", errcode.ConfigInvalid, []string{"unsafe YAML"}},
		{"deep nesting", strings.Repeat("[", 101) + strings.Repeat("]", 101) + "\n", errcode.ConfigInvalid, []string{"nesting"}},
		{"deep nesting in remote", "remotes:\n  o:\n    adapter: x\n    extensions: " + strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100) + "\n", errcode.ConfigInvalid, []string{"nesting"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeProject(t, tc.yml)
			_, err := Load(root)
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tc.want)
			}
			t.Log(err)
			if got := errcode.Of(err); got != tc.code {
				t.Errorf("code = %q, want %q (%v)", got, tc.code, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
