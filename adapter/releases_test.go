package adapter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

func TestReleasesList(t *testing.T) {
	h := testHandler()
	h.Capabilities.Features.ReleasesList = true
	// Announced without a handler: forced off, and the command is unsupported.
	code, m, _ := run(t, h, []string{"--capabilities"}, "")
	if f := m["features"].(map[string]any); code != 0 || f["releases_list"] != nil {
		t.Fatalf("releases_list without a handler: %d %v", code, m)
	}
	req := `{"type":"releases.list","protocol_version":1,"request_id":"l-1","remote":"origin","target":{"workspace":"acme"},"labels":["v1"],"limit":2,"cursor":"c1"}`
	code, m, _ = run(t, h, []string{"releases.list"}, req)
	if code != 0 || m["ok"] != false || m["error"].(map[string]any)["code"] != protocol.CodeUnsupportedProtocol {
		t.Fatalf("no handler: %d %v", code, m)
	}

	var got *protocol.ReleasesListRequest
	h.ReleasesList = func(_ context.Context, r *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
		got = r
		if r.Cursor == "empty" {
			return &protocol.ReleasesListResponse{}, nil
		}
		return &protocol.ReleasesListResponse{Releases: []protocol.ReleaseEntry{{
			ReleaseID: "rel_1", CreatedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Stream: "s",
			FileDigest: "sha256:" + strings.Repeat("a", 64), SizeBytes: 3,
		}}, NextCursor: "rel_1"}, nil
	}
	code, m, _ = run(t, h, []string{"--capabilities"}, "")
	if f := m["features"].(map[string]any); code != 0 || f["releases_list"] != true {
		t.Fatalf("releases_list with a handler: %d %v", code, m)
	}
	code, m, _ = run(t, h, []string{"releases.list"}, req)
	if code != 0 || m["ok"] != true || m["type"] != "releases.list.result" || m["request_id"] != "l-1" || m["next_cursor"] != "rel_1" {
		t.Fatalf("%d %v", code, m)
	}
	if got.Remote != "origin" || got.Target.Workspace != "acme" || got.Limit != 2 || got.Cursor != "c1" || len(got.Labels) != 1 {
		t.Fatalf("handler got %+v", got)
	}
	if rs := m["releases"].([]any); len(rs) != 1 || rs[0].(map[string]any)["created_at"] != "2026-12-01T09:00:00Z" {
		t.Fatalf("releases %v", m["releases"])
	}
	// A nil page is sent as releases: [].
	code, m, _ = run(t, h, []string{"releases.list"}, strings.Replace(req, `"c1"`, `"empty"`, 1))
	if rs, ok := m["releases"].([]any); code != 0 || !ok || len(rs) != 0 {
		t.Fatalf("empty page: %d %v", code, m)
	}
	// A request out of bounds never reaches the handler.
	got = nil
	for _, bad := range []string{`"limit":-1`, `"limit":1001`, `"cursor":"a b"`} {
		body := strings.Replace(req, `"limit":2`, bad, 1)
		if strings.HasPrefix(bad, `"cursor"`) {
			body = strings.Replace(req, `"cursor":"c1"`, bad, 1)
		}
		code, m, _ = run(t, h, []string{"releases.list"}, body)
		if code != 0 || m["ok"] != false || m["error"].(map[string]any)["code"] != protocol.CodeInvalidRequest || got != nil {
			t.Fatalf("%s: %d %v (handler called: %v)", bad, code, m, got != nil)
		}
	}
}
