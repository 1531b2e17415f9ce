package protocol

import (
	"strings"
	"testing"
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
		t.Run(tc.name, func(t *testing.T) {
			if err := DecodeStrict([]byte(tc.raw), tc.resp); err != nil {
				t.Fatal(err)
			}
			err := CheckRequired([]byte(tc.raw), tc.resp)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
