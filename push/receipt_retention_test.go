package push_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/push"
)

// TestReceiptRetention: the push receipt records the retention the
// registry answered ("retention" in its JSON), leaves it out when there is
// none, and drops one whose form is wrong.
func TestReceiptRetention(t *testing.T) {
	t.Parallel()
	rel := &protocol.ReleaseResult{ReleaseID: "rel_1", CreatedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Retention: protocol.NewRetention(protocol.RetentionCompliance, time.Date(2033, 12, 1, 9, 0, 1, 0, time.UTC), false)}
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		ret  *protocol.Retention
		want string // "" for no retention member
	}{
		{"kept", rel.Retention, `"retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01T09:00:01Z"}`},
		{"held", &protocol.Retention{Mode: "GOVERNANCE", RetainUntil: "2033-12-01T09:00:01Z", LegalHold: true}, `"retention":{"mode":"GOVERNANCE","retain_until":"2033-12-01T09:00:01Z","legal_hold":true}`},
		{"none", nil, ""},
		{"malformed", &protocol.Retention{Mode: "FOREVER"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *rel
			r.Retention = tc.ret
			rc := push.NewReceipt("origin", protocol.TargetConfig{Workspace: "acme"}, "/p.epack", digest, 1, &r, nil, nil, nil)
			b, err := json.Marshal(rc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && strings.Contains(string(b), "retention") || tc.want != "" && !strings.Contains(string(b), tc.want) {
				t.Fatalf("receipt %s, want %q", b, tc.want)
			}
		})
	}
}
