package ocistore

import (
	"encoding/json"
	"testing"
)

// FuzzParseConfig: EPACK_REMOTE_CONFIG comes from the host, any bytes;
// parsing never panics, every warning says something, and an accepted
// configuration written back as settings parses to the same Config.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"registry":"ghcr.io","namespace":"acme/evidence"}`, `{"registry":"http://127.0.0.1:5000/"}`,
		`{"registry":"https://ghcr.io","plain_http":true}`, `{"registry":"localhost:5000","plain_http":"true","direct_transfers":"false"}`,
		`{"registry":"[::1]:5000","plain_http":true,"ca_file":" /etc/ca.pem "}`, `{"registry":"ghcr.io","namespace":"/{workspace}/{environment}/"}`,
		`{"registry":"ghcr.io","extra":1,"":2}`, `{"registry":"u:p@ghcr.io"}`, `{"registry":"ghcr.io:0"}`, `{"registry":7}`,
		`{"registry":"ghcr.io","direct_transfers":"yes"}`, `{"registry":"http://ghcr.io"}`, "", "  ", "null", "[]", `{"registry":"a:b:c"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, warnings, err := ParseConfig(raw)
		for _, w := range warnings {
			if w == "" {
				t.Fatalf("%q: an empty warning in %q", raw, warnings)
			}
		}
		if err != nil {
			return
		}
		again, _ := json.Marshal(map[string]any{
			"registry": c.Registry, "namespace": c.Namespace, "ca_file": c.CAFile,
			"plain_http": c.PlainHTTP, "direct_transfers": c.Direct,
		})
		c2, w2, err := ParseConfig(string(again))
		if err != nil || c2 != c || len(w2) != 0 {
			t.Fatalf("%q parsed to %+v; written back as %s it parses to %+v, %q, %v", raw, c, again, c2, w2, err)
		}
	})
}
