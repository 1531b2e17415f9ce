package ocistore

import (
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

func TestStreamPath(t *testing.T) {
	for in, want := range map[string]string{
		"acme/prod":         "acme/prod",
		"Acme/Prod":         "acme/prod",
		"a.b/c_d/e__f/g--h": "a.b/c_d/e__f/g--h",
		"team-1/soc2.2024":  "team-1/soc2.2024",
	} {
		if got, err := StreamPath(in); err != nil || got != want {
			t.Errorf("StreamPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a b", "a..b", "-a", "a-", "a/.b", "a___b", "straße", "a@b", "a:b", "", "a//b", "a/"} {
		if got, err := StreamPath(in); err == nil || registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Errorf("StreamPath(%q) = %q, %v; want invalid_request", in, got, err)
		} else if in != "" && in != "a//b" && in != "a/" && !strings.Contains(err.Error(), "cannot be an OCI repository name") {
			t.Errorf("StreamPath(%q): unclear error %v", in, err)
		}
	}
}

func TestRepository(t *testing.T) {
	c := Config{Registry: "ghcr.io", Namespace: "acme/evidence/{environment}"}
	got, err := c.Repository(protocol.TargetConfig{Environment: "Prod", Stream: "soc2/q1"})
	if err != nil || got != "acme/evidence/prod/soc2/q1" {
		t.Fatalf("%q %v", got, err)
	}
	if got, _ := c.Repository(protocol.TargetConfig{Stream: "s"}); got != "acme/evidence/default/s" {
		t.Fatalf("default environment: %q", got)
	}
	if _, err := c.Repository(protocol.TargetConfig{Environment: "pr od", Stream: "s"}); err == nil {
		t.Fatal("environment with a space accepted")
	}
	if _, err := c.Repository(protocol.TargetConfig{Stream: strings.Repeat("a", 250)}); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("long reference: %v", err)
	}
}

func TestVersionTag(t *testing.T) {
	for in, want := range map[string]string{"v1.0.0": "v1.0.0", "1.2": "1.2", "v1.0.0+build.5": "v1.0.0_build.5", "_x": "_x"} {
		if got, err := VersionTag(in); err != nil || got != want {
			t.Errorf("VersionTag(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"latest", "rel_01", "pack-sha256-00", "sha256-ab", ".x", "-x", "a b", "ä", strings.Repeat("1", 129)} {
		if _, err := VersionTag(in); err == nil {
			t.Errorf("VersionTag(%q) accepted", in)
		}
	}
	if got := versionsOf([]string{"v1", "monthly", "version:2.0", "version=3", "v1", "vx", "version:"}); strings.Join(got, ",") != "v1,2.0,3" {
		t.Fatalf("versionsOf: %v", got)
	}
}

func TestParseConfig(t *testing.T) {
	c, warn, err := ParseConfig(`{"registry":"https://ghcr.io/","namespace":"/acme/ev/","other":1}`)
	if err != nil || c.Registry != "ghcr.io" || c.Namespace != "acme/ev" || !c.Direct || c.PlainHTTP || len(warn) != 1 || !strings.Contains(warn[0], `"other"`) {
		t.Fatalf("%+v %v %v", c, warn, err)
	}
	c, _, err = ParseConfig(`{"registry":"http://127.0.0.1:5000"}`)
	if err != nil || !c.PlainHTTP || c.Direct || c.Registry != "127.0.0.1:5000" {
		t.Fatalf("plain http: %+v %v", c, err)
	}
	c, _, err = ParseConfig(`{"registry":"r.example:5000","ca_file":"/x.pem","direct_transfers":"true"}`)
	if err != nil || !c.Direct || c.CAFile != "/x.pem" {
		t.Fatalf("direct with ca_file: %+v %v", c, err)
	}
	if c, _, _ := ParseConfig(`{"registry":"r.example","ca_file":"/x.pem"}`); c.Direct {
		t.Fatal("ca_file should turn direct transfers off by default")
	}
	for _, raw := range []string{
		``, `{}`, `[]`, `{"registry":1}`, `{"registry":"ghcr.io/acme"}`, `{"registry":"u:p@ghcr.io"}`,
		`{"registry":"http://ghcr.io"}`, `{"registry":"ghcr.io","plain_http":true}`, `{"registry":"ghcr.io:99999"}`,
		`{"registry":"ghcr.io","namespace":"Acme"}`, `{"registry":"ghcr.io","namespace":"a//b"}`, `{"registry":"ghcr.io","plain_http":"maybe"}`,
		`{"registry":"https://ghcr.io","plain_http":true}`,
	} {
		if _, _, err := ParseConfig(raw); err == nil || registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Errorf("ParseConfig(%s) = %v, want invalid_request", raw, err)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123, time.UTC)
	rel := &release{
		ID: registry.NewReleaseID(now), Workspace: "w", Environment: "e", Stream: "a/b",
		FileDigest: "sha256:" + strings.Repeat("ab", 32), Size: 42, PackDigest: "sha256:" + strings.Repeat("cd", 32),
		Labels: []string{"v1", "x"}, Notes: "n", BuildContext: map[string]string{"k": "v"}, Created: now, Title: titleFor("a/b"),
	}
	raw, desc, err := rel.manifest()
	if err != nil || desc.Size != int64(len(raw)) {
		t.Fatal(err)
	}
	got, err := parseRelease(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rel.ID || got.Stream != "a/b" || got.Workspace != "w" || got.Environment != "e" || got.Size != 42 || got.FileDigest != rel.FileDigest ||
		!got.Created.Equal(now) || got.version() != "v1" || got.Notes != "n" || got.BuildContext["k"] != "v" || got.Title != "a-b.epack" || got.foreign {
		t.Fatalf("%+v", got)
	}
	for _, bad := range []string{
		`{}`, `not json`,
		`{"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.evidencepack.pack.v1"}`,
		`{"artifactType":"application/vnd.evidencepack.pack.v1","layers":[]}`,
		`{"artifactType":"application/vnd.evidencepack.pack.v1","layers":[{"mediaType":"application/vnd.evidencepack.pack.v1+zip","digest":"sha512:00","size":1}]}`,
		`{"artifactType":"application/vnd.evidencepack.pack.v1","layers":[{"mediaType":"application/vnd.evidencepack.pack.v1+zip","digest":"ab","size":1}]}`,
	} {
		if _, err := parseRelease([]byte(bad)); err == nil {
			t.Errorf("parseRelease(%s) accepted", bad)
		}
	}
	layer := `"layers":[{"mediaType":"application/vnd.evidencepack.pack.v1+zip","digest":"sha256:` + strings.Repeat("ab", 32) + `","size":3}]`
	foreign, err := parseRelease([]byte(`{"artifactType":"application/vnd.evidencepack.pack.v1",` + layer + `}`))
	if err != nil || !foreign.foreign || foreign.ID != "" {
		t.Fatalf("foreign manifest: %+v %v", foreign, err)
	}
	if _, err := parseRelease([]byte(`{"artifactType":"application/vnd.evidencepack.pack.v1",` + layer + `,"annotations":{"org.evidencepack.labels":"x"}}`)); err == nil {
		t.Fatal("malformed labels accepted")
	}
	if _, err := parseRelease([]byte(`{"artifactType":"application/vnd.evidencepack.pack.v1",` + layer + `,"annotations":{"org.evidencepack.release.id":"rel_x"}}`)); err == nil {
		t.Fatal("malformed release id accepted")
	}
}

func TestCredentialSource(t *testing.T) {
	for _, c := range []Credentials{{Username: "u"}, {Password: "p"}, {Username: "u", Password: "p", Token: "t"}} {
		if _, err := newCredentialSource("r", c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	s, err := newCredentialSource("r:1", Credentials{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if cred, _ := s.fn(t.Context(), "other:1"); cred.Username != "" {
		t.Fatal("secrets sent to another host")
	}
	if cred, _ := s.fn(t.Context(), "r:1"); cred.Username != "u" || cred.Password != "p" {
		t.Fatalf("cred %+v", cred)
	}
	if tok, _ := newCredentialSource("r", Credentials{Token: "t"}); tok.subject(t.Context(), "r") != "token (from OCI_TOKEN)" {
		t.Fatal(tok.subject(t.Context(), "r"))
	}
	if none, _ := newCredentialSource("r", Credentials{DockerConfig: "/nonexistent/config.json"}); none.has() || none.subject(t.Context(), "r") != "anonymous" {
		t.Fatal("missing Docker config should mean no credentials")
	}
}
