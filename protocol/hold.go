package protocol

import (
	"fmt"
	"strconv"
	"time"
)

// release.hold is our addition to the protocol: it sets or clears a legal
// hold on everything a release is made of (its pack blob and every record
// of it in the release log), on stores that have one (S3 Object Lock). An
// adapter that answers it announces features.legal_hold.
//
//	{"type":"release.hold","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{"workspace":"acme","environment":"prod"},"release_id":"rel_…","hold":true}
//	{"ok":true,"type":"release.hold.result","request_id":"…","release_id":"rel_…",
//	 "hold":true,"objects":["blobs/sha256/…","releases/…/rel_….json"]}

// CmdHold sets or clears a legal hold.
const CmdHold = "release.hold"

// HoldRequest asks for a legal hold on a release to be set (Hold) or cleared.
type HoldRequest struct {
	RequestHeader
	Remote    string       `json:"remote"`
	Target    TargetConfig `json:"target"`
	ReleaseID string       `json:"release_id"`
	Hold      bool         `json:"hold"`
}

// Check refuses a request without a release id.
func (r *HoldRequest) Check() error {
	if r.ReleaseID == "" || len(r.ReleaseID) > 255 {
		return fmt.Errorf("release_id is required")
	}
	return nil
}

// HoldResponse names the objects whose legal hold was set or cleared.
type HoldResponse struct {
	ResponseHeader
	ReleaseID string   `json:"release_id"`
	Hold      bool     `json:"hold"`
	Objects   []string `json:"objects"`
}

func (v *HoldResponse) checkRequired(raw []byte) error {
	if v.ReleaseID == "" {
		return fmt.Errorf("release_id is missing")
	}
	if !hasMember(raw, "objects") {
		return fmt.Errorf("objects is missing")
	}
	return nil
}

// ParseRetention reads a retention period: a whole number of years ("7y",
// 365 days each), days ("90d") or hours ("36h").
func ParseRetention(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a period like 7y, 90d or 36h", s)
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
	if err != nil || n == 0 || n > 1000*366*24 {
		return 0, fmt.Errorf("%q is not a period like 7y, 90d or 36h", s)
	}
	unit := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour}[s[len(s)-1]]
	if unit == 0 || time.Duration(n) > (1<<62)/unit {
		return 0, fmt.Errorf("%q is not a period like 7y, 90d or 36h", s)
	}
	return time.Duration(n) * unit, nil
}
