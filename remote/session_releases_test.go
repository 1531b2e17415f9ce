package remote

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// listingAdapter is a script adapter that announces releases_list and
// answers releases.list with answer (a printf format given "$ID"),
// recording each request in <project>/req.json.
func listingAdapter(t *testing.T, p *project, answer string) *Session {
	t.Helper()
	caps := strings.Replace(capsJSON, `"whoami":true`, `"whoami":true,"releases_list":true`, 1)
	src := "#!/bin/sh\nif [ \"$1\" = \"--capabilities\" ]; then\n  printf '%s' '" + caps + "'\n  exit 0\nfi\n" +
		"REQ=$(cat)\nprintf '%s' \"$REQ\" > req.json\nID=$(printf '%s' \"$REQ\" | sed -n 's/.*\"request_id\":\"\\([^\"]*\\)\".*/\\1/p')\n" +
		"printf '" + answer + "' \"$ID\"\n"
	bin := filepath.Join(t.TempDir(), "epack-remote-lister")
	if err := os.WriteFile(bin, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const pageOfTwo = `{"ok":true,"type":"releases.list.result","request_id":"%s","releases":[` +
	`{"release_id":"rel_2","created_at":"2026-12-01T09:00:02Z","stream":"acme/evidence","version":"v1.1.0","labels":["v1.1.0"],"file_digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size_bytes":20},` +
	`{"release_id":"rel_1","created_at":"2026-12-01T09:00:01Z","stream":"acme/evidence","file_digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size_bytes":10}],` +
	`"next_cursor":"rel_1"}`

func TestReleasesList(t *testing.T) {
	p := newProject(t)
	s := listingAdapter(t, p, pageOfTwo)
	if !s.Capabilities().Features.ReleasesList {
		t.Fatal("releases_list not read from the capabilities")
	}
	resp, err := s.ReleasesList(context.Background(), &protocol.ReleasesListRequest{
		Target: protocol.TargetConfig{Workspace: "acme", Stream: "acme/evidence"}, Labels: []string{"v1.1.0"}, Limit: 2, Cursor: "rel_9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Releases) != 2 || resp.Releases[0].ReleaseID != "rel_2" || resp.Releases[0].Version != "v1.1.0" || resp.NextCursor != "rel_1" || resp.Releases[1].CreatedAt.Second() != 1 {
		t.Fatalf("page %+v", resp)
	}
	var sent map[string]any
	b, _ := os.ReadFile(filepath.Join(p.root, "req.json"))
	if err := json.Unmarshal(b, &sent); err != nil {
		t.Fatalf("request %s: %v", b, err)
	}
	if sent["type"] != "releases.list" || sent["protocol_version"] != 1.0 || sent["remote"] != "origin" || sent["limit"] != 2.0 || sent["cursor"] != "rel_9" ||
		sent["target"].(map[string]any)["stream"] != "acme/evidence" || len(sent["labels"].([]any)) != 1 {
		t.Fatalf("request sent: %s", b)
	}
}

func TestReleasesListRefused(t *testing.T) {
	ctx := context.Background()
	// An adapter that does not announce it is never asked.
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `touch called; echo '{}'`)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.ReleasesList(ctx, &protocol.ReleasesListRequest{})
	wantCode(t, err, errcode.UnsupportedFeature, `adapter "script" does not support listing releases`)
	if !IsUnsupported(err) {
		t.Fatal("not IsUnsupported")
	}
	if _, err := os.Stat(filepath.Join(p.root, "called")); err == nil {
		t.Fatal("the adapter was run")
	}

	for _, tc := range []struct {
		name, answer string
		req          protocol.ReleasesListRequest
		code         errcode.Code
		msg          string
	}{
		{"announced but unsupported", `{"ok":false,"type":"error","request_id":"%s","error":{"code":"unsupported_protocol","message":"unknown request type: releases.list"}}`,
			protocol.ReleasesListRequest{}, errcode.UnsupportedFeature, "does not support releases.list"},
		{"more than the page", pageOfTwo, protocol.ReleasesListRequest{Limit: 1}, errcode.ProtocolMismatch, "2 releases for a page of 1"},
		{"no releases", `{"ok":true,"type":"releases.list.result","request_id":"%s"}`, protocol.ReleasesListRequest{}, errcode.ProtocolMismatch, "releases is missing"},
		{"bad digest", strings.Replace(pageOfTwo, "sha256:b", "sha256:B", 1), protocol.ReleasesListRequest{}, errcode.ProtocolMismatch, "file_digest"},
		{"wrong type", strings.Replace(pageOfTwo, "releases.list.result", "pull.prepare.result", 1), protocol.ReleasesListRequest{}, errcode.ProtocolMismatch, "type"},
		{"conflict", `{"ok":false,"type":"error","request_id":"%s","error":{"code":"conflict","message":"busy"}}`, protocol.ReleasesListRequest{}, errcode.RemoteConflict, "busy"},
		{"limit out of range", pageOfTwo, protocol.ReleasesListRequest{Limit: protocol.MaxReleasesLimit + 1}, errcode.InvalidInput, "out of range"},
		{"cursor with a newline", pageOfTwo, protocol.ReleasesListRequest{Cursor: "a\nb"}, errcode.InvalidInput, "printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			s := listingAdapter(t, p, tc.answer)
			_, err := s.ReleasesList(ctx, &tc.req)
			wantCode(t, err, tc.code, tc.msg)
			if tc.code == errcode.InvalidInput {
				if _, err := os.Stat(filepath.Join(p.root, "req.json")); err == nil {
					t.Fatal("a refused request was sent")
				}
			}
		})
	}
}
