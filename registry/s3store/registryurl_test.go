package s3store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/s3store"
)

func TestParseRegistryURL(t *testing.T) {
	def := s3store.DefaultPresignExpiry
	for _, tc := range []struct {
		name, raw string
		want      s3store.Config
	}{
		{"bucket only", "s3://evidence-bucket", s3store.Config{Bucket: "evidence-bucket", PresignExpiry: def}},
		{"trailing slash", "s3://evidence-bucket/", s3store.Config{Bucket: "evidence-bucket", PresignExpiry: def}},
		{"prefix", "s3://evidence-bucket/team/prod/", s3store.Config{Bucket: "evidence-bucket", Prefix: "team/prod", PresignExpiry: def}},
		{"upper-case scheme", "S3://evidence-bucket", s3store.Config{Bucket: "evidence-bucket", PresignExpiry: def}},
		{"surrounding space", "  s3://evidence-bucket\n", s3store.Config{Bucket: "evidence-bucket", PresignExpiry: def}},
		{"every key", "s3://b12/p?region=eu-west-1&endpoint=http://127.0.0.1:7070&path_style=true&presign_expiry=30m&upload_headers=none",
			s3store.Config{Bucket: "b12", Prefix: "p", Region: "eu-west-1", Endpoint: "http://127.0.0.1:7070", PathStyle: true, PresignExpiry: 30 * time.Minute, UploadHeaders: "none"}},
		{"escaped endpoint", "s3://b12?endpoint=https%3A%2F%2Fs3.example.com%3A9000", s3store.Config{Bucket: "b12", Endpoint: "https://s3.example.com:9000", PresignExpiry: def}},
		{"expiry in seconds", "s3://b12?presign_expiry=600", s3store.Config{Bucket: "b12", PresignExpiry: 10 * time.Minute}},
		{"path_style false", "s3://b12?path_style=0", s3store.Config{Bucket: "b12", PresignExpiry: def}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s3store.ParseRegistryURL(tc.raw)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseRegistryURLRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, raw, text string
	}{
		{"empty", "", "no s3:// scheme"},
		{"no scheme", "evidence-bucket/prefix", "no s3:// scheme"},
		{"https", "https://evidence-bucket", `scheme "https" is not s3`},
		{"opaque", "s3:evidence-bucket", "no // after s3:"},
		{"no bucket", "s3:///prefix", "names no bucket"},
		{"credentials", "s3://AKID:hunter2@evidence-bucket", "credentials do not belong"},
		{"port", "s3://evidence-bucket:9000", "port"},
		{"fragment", "s3://evidence-bucket#x", "fragment"},
		{"bad escape", "s3://evidence-bucket/%zz", "not a URL"},
		{"bad query", "s3://evidence-bucket?region=%zz", "query is malformed"},
		{"unknown key", "s3://evidence-bucket?pathstyle=true", `unknown query key "pathstyle"`},
		{"repeated key", "s3://evidence-bucket?region=a&region=b", `"region" is given 2 times`},
		{"empty value", "s3://evidence-bucket?region=", `"region" has no value`},
		{"bad bool", "s3://evidence-bucket?path_style=yes", `path_style="yes"`},
		{"bad expiry", "s3://evidence-bucket?presign_expiry=soon", `presign_expiry="soon"`},
		{"expiry too long", "s3://evidence-bucket?presign_expiry=200h", "between 1m and 168h"},
		{"expiry overflow", "s3://evidence-bucket?presign_expiry=99999999999999999", "presign_expiry"},
		{"short bucket", "s3://ab", "not a valid bucket name"},
		{"dot-dot prefix", "s3://evidence-bucket/a/../b", `".."`},
		{"control in prefix", "s3://evidence-bucket/a%00b", "control character"},
		{"endpoint not http", "s3://evidence-bucket?endpoint=ftp://x", "must be an http(s) URL"},
		{"endpoint credentials", "s3://evidence-bucket?endpoint=https://u:p@x", "must not contain credentials"},
		{"bad upload_headers", "s3://evidence-bucket?upload_headers=maybe", "auto, signed or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3store.ParseRegistryURL(tc.raw)
			if err == nil || registry.CodeOf(err) != protocol.CodeInvalidRequest {
				t.Fatalf("got %v, want invalid_request", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.text) || !strings.HasPrefix(msg, "S3_REGISTRY_URL: ") || !strings.Contains(msg, "expected s3://<bucket>[/<prefix>]") {
				t.Fatalf("message %q: want S3_REGISTRY_URL, %q and the expected form", msg, tc.text)
			}
			if strings.Contains(msg, "hunter2") {
				t.Fatalf("message echoes the secret: %q", msg)
			}
		})
	}
}

// TestLoadConfig: which of EPACK_REMOTE_CONFIG and S3_REGISTRY_URL counts.
func TestLoadConfig(t *testing.T) {
	def := s3store.DefaultPresignExpiry
	for _, tc := range []struct {
		name, config, url string
		want              s3store.Config
		warn              string // a warning containing this ("" = none)
		errText           string
	}{
		{"config only", `{"bucket":"cfg-bucket","prefix":"p"}`, "", s3store.Config{Bucket: "cfg-bucket", Prefix: "p", PresignExpiry: def}, "", ""},
		{"url only", "", "s3://url-bucket/q?path_style=true", s3store.Config{Bucket: "url-bucket", Prefix: "q", PathStyle: true, PresignExpiry: def}, "", ""},
		{"config bucket wins", `{"bucket":"cfg-bucket"}`, "s3://url-bucket", s3store.Config{Bucket: "cfg-bucket", PresignExpiry: def}, "S3_REGISTRY_URL ignored", ""},
		{"config bucket wins over a bad url", `{"bucket":"cfg-bucket"}`, "https://nope", s3store.Config{Bucket: "cfg-bucket", PresignExpiry: def}, "S3_REGISTRY_URL ignored", ""},
		{"config fills gaps", `{"endpoint":"https://s3.example.com","path_style":true,"presign_expiry":"5m","prefix":"cfg"}`, "s3://url-bucket",
			s3store.Config{Bucket: "url-bucket", Prefix: "cfg", Endpoint: "https://s3.example.com", PathStyle: true, PresignExpiry: 5 * time.Minute}, "", ""},
		{"url overrides", `{"endpoint":"https://s3.example.com","path_style":true,"presign_expiry":"5m","prefix":"cfg","region":"a"}`, "s3://url-bucket/url?path_style=false&presign_expiry=2m&region=b&endpoint=http://127.0.0.1:1",
			s3store.Config{Bucket: "url-bucket", Prefix: "url", Region: "b", Endpoint: "http://127.0.0.1:1", PresignExpiry: 2 * time.Minute}, "", ""},
		{"blank url", "{}", "   ", s3store.Config{}, "", "extensions.bucket"},
		{"neither", "", "", s3store.Config{}, "", "S3_REGISTRY_URL=s3://<bucket>"},
		{"bad url", "", "s3://x", s3store.Config{}, "", "S3_REGISTRY_URL: bucket"},
		{"bad config", "[", "s3://url-bucket", s3store.Config{}, "", "EPACK_REMOTE_CONFIG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := s3store.LoadConfig(tc.config, tc.url)
			if tc.errText != "" {
				if err == nil || registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got %+v, %v; want invalid_request containing %q", got, err, tc.errText)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
			if w := strings.Join(warnings, "; "); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
				t.Fatalf("warnings %q, want %q", w, tc.warn)
			}
		})
	}
}

// FuzzParseRegistryURL: any value either parses into a usable, checked
// configuration or is an invalid_request naming S3_REGISTRY_URL; never a
// panic, never the secret part of the value echoed.
func FuzzParseRegistryURL(f *testing.F) {
	for _, s := range []string{
		"s3://evidence-bucket", "s3://b12/team/prod?region=eu-west-1&endpoint=http://127.0.0.1:7070&path_style=true&presign_expiry=30m",
		"s3://b12?presign_expiry=600&upload_headers=signed", "s3://u:secretpw@b12", "s3:b12", "s3:///x", "s3://b12#f", "s3://b12/%2e%2e/x",
		"s3://b12?endpoint=https%3A%2F%2Fx", "s3://[::1]/x", "s3://b12?a=1&a=2", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := s3store.ParseRegistryURL(raw)
		if err != nil {
			if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.HasPrefix(err.Error(), "S3_REGISTRY_URL: ") {
				t.Fatalf("%q: error %v is not an invalid_request naming S3_REGISTRY_URL", raw, err)
			}
			if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i+3 && !strings.ContainsAny(raw[i+3:j], "/?#") {
				// The usage hint is fixed text: a userinfo that happens to be a
				// piece of it ("sign_exp") is not an echo.
				msg := strings.ReplaceAll(err.Error(), s3store.RegistryURLForm, "")
				if pw := raw[i+3 : j]; len(pw) >= 8 && strings.Contains(msg, pw) {
					t.Fatalf("%q: error echoes the userinfo: %v", raw, err)
				}
			}
			return
		}
		if len(c.Bucket) < 3 || strings.ContainsAny(c.Bucket, "/\\ \x00:") {
			t.Fatalf("%q: bucket %q accepted", raw, c.Bucket)
		}
		if c.PresignExpiry < time.Minute || c.PresignExpiry > 7*24*time.Hour {
			t.Fatalf("%q: presign expiry %s accepted", raw, c.PresignExpiry)
		}
		if c.Prefix != "" {
			for _, seg := range strings.Split(c.Prefix, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("%q: prefix %q accepted", raw, c.Prefix)
				}
			}
		}
		// The same settings reached through LoadConfig with no other
		// configuration give the same result.
		if c2, _, err := s3store.LoadConfig("", raw); err != nil || c2 != c {
			t.Fatalf("%q: LoadConfig %+v, %v; ParseRegistryURL %+v", raw, c2, err, c)
		}
	})
}
