package protocol

import "fmt"

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
