package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestCheckRequired(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, raw string
		resp      any
		wantErr   string
	}{
		{"prepare ok", `{"upload":{"method":"PUT","url":"https://u"},"finalize_token":"t"}`, &PushPrepareResponse{}, ""},
		{"prepare skip without url", `{"upload":{"method":"skip"},"finalize_token":""}`, &PushPrepareResponse{}, ""},
		{"prepare no method", `{"upload":{"url":"https://u"},"finalize_token":"t"}`, &PushPrepareResponse{}, "upload.method"},
		{"prepare no url", `{"upload":{"method":"PUT"},"finalize_token":"t"}`, &PushPrepareResponse{}, "upload.url"},
		{"prepare no token", `{"upload":{"method":"PUT","url":"https://u"}}`, &PushPrepareResponse{}, "finalize_token"},
		{"prepare null token", `{"upload":{"method":"PUT","url":"https://u"},"finalize_token":null}`, &PushPrepareResponse{}, "finalize_token"},
		{"finalize no release id", `{"release":{}}`, &PushFinalizeResponse{}, "release.release_id"},
		{"pull ok", `{"download":{"url":"https://d"},"pack":{"digest":"` + digest + `","size_bytes":3}}`, &PullPrepareResponse{}, ""},
		{"pull bad digest", `{"download":{"url":"https://d"},"pack":{"digest":"sha256:AB","size_bytes":3}}`, &PullPrepareResponse{}, "pack.digest"},
		{"pull zero size", `{"download":{"url":"https://d"},"pack":{"digest":"` + digest + `","size_bytes":0}}`, &PullPrepareResponse{}, "size_bytes"},
		{"pull no url", `{"pack":{"digest":"` + digest + `","size_bytes":3}}`, &PullPrepareResponse{}, "download.url"},
		{"whoami identity", `{"identity":{}}`, &AuthWhoamiResponse{}, ""},
		{"whoami identity other case", `{"Identity":{}}`, &AuthWhoamiResponse{}, ""},
		{"whoami no identity", `{}`, &AuthWhoamiResponse{}, "identity"},
		{"runs sync has none", `{}`, &RunsSyncResponse{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRequired(t, tc.raw, tc.resp, tc.wantErr) })
	}
}

func TestRetentionRequired(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	pull := func(ret string) string {
		return `{"download":{"url":"https://d"},"pack":{"digest":"` + digest + `","size_bytes":3}` + ret + `}`
	}
	fin := func(ret string) string { return `{"release":{"release_id":"rel_1"` + ret + `}}` }
	list := func(ret string) string {
		return `{"releases":[{"release_id":"rel_1","created_at":"2026-12-01T09:00:00Z","stream":"s","file_digest":"` + digest + `","size_bytes":3` + ret + `}]}`
	}
	for _, tc := range []struct {
		name, raw string
		resp      any
		wantErr   string
	}{
		{"finalize without", fin(""), &PushFinalizeResponse{}, ""},
		{"finalize compliance", fin(`,"retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01T09:00:01Z"}`), &PushFinalizeResponse{}, ""},
		{"finalize governance hold", fin(`,"retention":{"mode":"GOVERNANCE","retain_until":"2033-12-01T09:00:01Z","legal_hold":true}`), &PushFinalizeResponse{}, ""},
		{"finalize offset time", fin(`,"retention":{"mode":"GOVERNANCE","retain_until":"2033-12-01T10:00:01+01:00"}`), &PushFinalizeResponse{}, ""},
		{"finalize no until", fin(`,"retention":{"mode":"GOVERNANCE","legal_hold":true}`), &PushFinalizeResponse{}, ""},
		{"finalize null", fin(`,"retention":null`), &PushFinalizeResponse{}, ""},
		{"finalize bad mode", fin(`,"retention":{"mode":"governance","retain_until":"2033-12-01T09:00:01Z"}`), &PushFinalizeResponse{}, "release.retention: mode"},
		{"finalize no mode", fin(`,"retention":{"retain_until":"2033-12-01T09:00:01Z"}`), &PushFinalizeResponse{}, "release.retention: mode"},
		{"finalize bad time", fin(`,"retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01"}`), &PushFinalizeResponse{}, "retain_until"},
		{"pull without", pull(""), &PullPrepareResponse{}, ""},
		{"pull with", pull(`,"retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01T09:00:01Z"}`), &PullPrepareResponse{}, ""},
		{"pull bad time", pull(`,"retention":{"mode":"COMPLIANCE","retain_until":"soon"}`), &PullPrepareResponse{}, "retention: retain_until"},
		{"pull bad mode", pull(`,"retention":{"mode":"LOCKED"}`), &PullPrepareResponse{}, "retention: mode"},
		{"list without", list(""), &ReleasesListResponse{}, ""},
		{"list with", list(`,"retention":{"mode":"GOVERNANCE","retain_until":"2033-12-01T09:00:01Z"}`), &ReleasesListResponse{}, ""},
		{"list bad time", list(`,"retention":{"mode":"GOVERNANCE","retain_until":"2033-13-01T09:00:01Z"}`), &ReleasesListResponse{}, "releases[0].retention: retain_until"},
		{"list bad mode", list(`,"retention":{"mode":""}`), &ReleasesListResponse{}, "releases[0].retention: mode"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRequired(t, tc.raw, tc.resp, tc.wantErr) })
	}
	if err := DecodeStrict([]byte(fin(`,"retention":{"mode":"GOVERNANCE","Mode":"COMPLIANCE"}`)), &PushFinalizeResponse{}); err == nil {
		t.Fatal("a retention spelling mode twice was accepted")
	}
}

func TestRetentionSummary(t *testing.T) {
	r := NewRetention(RetentionCompliance, time.Date(2033, 12, 1, 9, 0, 1, 5e8, time.UTC), false)
	if r.RetainUntil != "2033-12-01T09:00:01Z" || r.Until() != time.Date(2033, 12, 1, 9, 0, 1, 0, time.UTC) {
		t.Fatalf("NewRetention = %+v", r)
	}
	if got := r.Summary(); got != "Retained until 2033-12-01 09:00:01 UTC (COMPLIANCE)" {
		t.Fatalf("Summary = %q", got)
	}
	r.LegalHold = true
	if got := r.Summary(); got != "Retained until 2033-12-01 09:00:01 UTC (COMPLIANCE, legal hold)" {
		t.Fatalf("Summary = %q", got)
	}
	if (*Retention)(nil).Summary() != "" || (*Retention)(nil).Check() != nil {
		t.Fatal("nil retention")
	}
}

// wantRequired decodes raw into resp and checks that CheckRequired accepts
// it (wantErr "") or refuses it with an error containing wantErr.
func wantRequired(t *testing.T, raw string, resp any, wantErr string) {
	t.Helper()
	if err := DecodeStrict([]byte(raw), resp); err != nil {
		t.Fatal(err)
	}
	err := CheckRequired([]byte(raw), resp)
	if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Fatalf("err = %v, want %q", err, wantErr)
	}
}
