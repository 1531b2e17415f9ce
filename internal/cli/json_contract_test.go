package cli_test

import (
	"crypto/elliptic"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// noNulls fails on any JSON null: lists print [] and absent objects are
// left out, so scripts never have to tell null from empty.
func noNulls(t *testing.T, what string, v any, path string) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		t.Errorf("%s: %s is null", what, path)
	case map[string]any:
		for k, e := range x {
			noNulls(t, what, e, path+"."+k)
		}
	case []any:
		for i, e := range x {
			noNulls(t, what, e, path+"["+string(rune('0'+i%10))+"]")
		}
	}
}

// The local commands print at least the keys the existing tool prints
// (COMPAT §10.4), with the same types, and never null. Every command that
// prints a manifest digest also prints manifest_digest_sha256, the
// sha256:-prefixed form, the same for the same pack.
func TestJSONContractOfLocalCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeTree(t, dir, map[string]string{"a/iam.json": `{"a":1}`, "a/repos.csv": "x\n", "b/iam.json": `{"a":2}`, "b/new.md": "n"})
	priv, _ := e2e.WriteKeyPair(t, filepath.Join(dir, "keys"), "k", elliptic.P256())
	type want map[string]string // key → JSON kind: string, number, bool, array, object
	cases := []struct {
		args []string
		keys want
	}{
		{[]string{"build", "a.epack", "a", "--stream", "acme/prod"}, want{"path": "string", "stream": "string"}},
		{[]string{"build", "b.epack", "b", "--stream", "acme/prod"}, want{"path": "string", "stream": "string"}},
		{[]string{"build", "s.epack", "a", "--stream", "acme/prod"}, want{"path": "string", "stream": "string"}},
		{[]string{"sign", "s.epack", "--key", priv, "--no-tlog"}, want{"pack_digest": "string", "manifest_digest": "string", "file_digest": "string"}},
		{[]string{"verify", "a.epack"}, want{"verified": "bool", "artifact_count": "number", "artifact_errors": "array", "attestation_count": "number",
			"attestation_errors": "array", "attestations": "array", "embedded_errors": "array", "pack_digest": "string", "pack_digest_error": "string", "stream": "string"}},
		{[]string{"inspect", "a.epack"}, want{"spec_version": "string", "stream": "string", "pack_digest": "string", "manifest_digest": "string",
			"generated_at": "string", "artifact_count": "number", "attestation_count": "number", "sources": "array", "artifacts": "array", "attestations": "array"}},
		{[]string{"diff", "a.epack", "b.epack"}, want{"pack1": "object", "pack2": "object", "added": "array", "removed": "array", "changed": "array",
			"unchanged": "array", "summary": "object"}},
		{[]string{"extract", "a.epack", "-o", "out"}, want{"count": "number", "extracted": "array", "output": "string"}},
	}
	kind := func(v any) string {
		switch v.(type) {
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		case []any:
			return "array"
		case map[string]any:
			return "object"
		}
		return "null"
	}
	// manifest_digest_sha256 by command and pack, checked after the loop.
	type mdOf struct{ cmd, pack string }
	md := map[mdOf]any{}
	for _, c := range cases {
		so, se, code := epackRun(t, "", append(c.args, "--json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", c.args, code, so, se)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(so), &m); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, so)
		}
		for k, kd := range c.keys {
			if got := kind(m[k]); got != kd {
				t.Errorf("%v: %q is %s, want %s", c.args, k, got, kd)
			}
		}
		noNulls(t, c.args[0], m, "")
		if c.args[0] == "diff" {
			for i, side := range []any{m["pack1"], m["pack2"]} {
				sm, _ := side.(map[string]any)
				md[mdOf{"diff", c.args[1+i]}] = sm["manifest_digest_sha256"]
			}
		} else if c.args[0] != "extract" {
			md[mdOf{c.args[0], c.args[1]}] = m["manifest_digest_sha256"]
		}
		if c.args[0] == "inspect" {
			if md, _ := m["manifest_digest"].(string); len(md) != 64 {
				t.Errorf("inspect manifest_digest %q: the existing tool prints it without sha256:", md)
			}
		}
	}
	for k, v := range md {
		d, _ := v.(string)
		if !strings.HasPrefix(d, "sha256:") || len(d) != 71 {
			t.Errorf("%s %s: manifest_digest_sha256 %v", k.cmd, k.pack, v)
		}
		if want := md[mdOf{"inspect", "a.epack"}]; k.pack == "a.epack" && v != want {
			t.Errorf("%s %s: manifest_digest_sha256 %v, inspect %v", k.cmd, k.pack, v, want)
		}
	}
	// Signing does not change the manifest digest.
	if a, b := md[mdOf{"build", "s.epack"}], md[mdOf{"sign", "s.epack"}]; a != b {
		t.Errorf("sign: manifest_digest_sha256 %v, build %v", b, a)
	}
	for _, k := range []mdOf{{"build", "a.epack"}, {"verify", "a.epack"}, {"inspect", "a.epack"}, {"sign", "s.epack"}, {"diff", "a.epack"}, {"diff", "b.epack"}} {
		if _, ok := md[k]; !ok {
			t.Errorf("%s %s: no manifest_digest_sha256", k.cmd, k.pack)
		}
	}
	// list --json is an array of {type, path, digest, size}.
	so, se, code := epackRun(t, "", "list", "a.epack", "--json")
	if code != 0 {
		t.Fatalf("list: %s", se)
	}
	var arts []map[string]any
	if err := json.Unmarshal([]byte(so), &arts); err != nil || len(arts) != 2 {
		t.Fatalf("list --json: %v\n%s", err, so)
	}
	for _, a := range arts {
		for k, kd := range (want{"type": "string", "path": "string", "digest": "string", "size": "number"}) {
			if kind(a[k]) != kd {
				t.Errorf("list: %q is %s in %v", k, kind(a[k]), a)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "artifacts", "iam.json")); err != nil {
		t.Errorf("extract wrote no file: %v", err)
	}
}
