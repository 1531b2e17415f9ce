package protocol

import (
	"fmt"
	"time"
)

// registry.gc is our addition to the protocol: the adapter removes what
// interrupted pushes left in its registry (staged uploads and their
// records, incomplete multipart uploads) and pack blobs no release
// references — never anything a release references, anything under
// retention or legal hold, or anything younger than older_than_seconds.
// An adapter that answers it announces features.gc.
//
//	{"type":"registry.gc","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{…},"dry_run":true,"older_than_seconds":86400,"limit":1000}
//	{"ok":true,"type":"registry.gc.result","request_id":"…","dry_run":true,
//	 "removed":[{"key":"staging/….epack","kind":"upload","size_bytes":1048576,
//	             "modified_at":"…","reason":"staged upload of a push that never finished"}],
//	 "removed_bytes":1048576,"kept":{"referenced":12,"young":1},"more":false}
//
// The registry is one store shared by every workspace and environment, so
// gc covers all of it (target only names the remote's scope for messages).
// removed lists what was removed (with dry_run: what would be); more says
// the call stopped at limit and another call may remove more.

// CmdGC is the garbage collection command.
const CmdGC = "registry.gc"

// MaxGCLimit bounds the items one registry.gc call removes or lists.
const MaxGCLimit = 10000

// Kinds of what registry.gc removes.
const (
	GCStaging = "staging" // the record of a push that never finished
	GCUpload  = "upload"  // a staged or incomplete upload
	GCBlob    = "blob"    // a pack blob no release references
)

// GCRequest asks the adapter to collect garbage.
type GCRequest struct {
	RequestHeader
	Remote           string       `json:"remote"`
	Target           TargetConfig `json:"target"`
	DryRun           bool         `json:"dry_run"`
	OlderThanSeconds int64        `json:"older_than_seconds"`
	Limit            int          `json:"limit,omitempty"`
}

// Check refuses a negative age or a limit out of range.
func (r *GCRequest) Check() error {
	if r.OlderThanSeconds < 0 {
		return fmt.Errorf("older_than_seconds must not be negative, got %d", r.OlderThanSeconds)
	}
	if r.Limit < 0 || r.Limit > MaxGCLimit {
		return fmt.Errorf("limit %d is out of range (1 to %d; 0 for %d)", r.Limit, MaxGCLimit, MaxGCLimit)
	}
	return nil
}

// GCItem is one object removed (or that would be).
type GCItem struct {
	Key        string    `json:"key"`
	Kind       string    `json:"kind"`
	SizeBytes  int64     `json:"size_bytes"`
	ModifiedAt time.Time `json:"modified_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
}

// GCResponse is what registry.gc did (or would do).
type GCResponse struct {
	ResponseHeader
	DryRun       bool           `json:"dry_run"`
	Removed      []GCItem       `json:"removed"`
	RemovedBytes int64          `json:"removed_bytes"`
	Kept         map[string]int `json:"kept,omitempty"`
	More         bool           `json:"more,omitempty"`
}

func (v *GCResponse) checkRequired(raw []byte) error {
	if !hasMember(raw, "removed") {
		return fmt.Errorf("removed is missing")
	}
	if len(v.Removed) > MaxGCLimit {
		return fmt.Errorf("%d items removed in one call, at most %d", len(v.Removed), MaxGCLimit)
	}
	for i, it := range v.Removed {
		if it.Key == "" || it.SizeBytes < 0 {
			return fmt.Errorf("removed[%d] has no key or a negative size", i)
		}
	}
	return nil
}
