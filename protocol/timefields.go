package protocol

import (
	"encoding/json"
	"time"
)

// Adapters written against the existing tool's Go SDK send created_at:""
// for "unknown" (COMPAT W25, §10.1); encoding/json refuses that for
// time.Time, and so does the existing host (§4.5), which makes it refuse its
// own SDK's answers. We accept it: created_at is informational, no required
// field depends on it, and a release the adapter did create must not be
// lost over it. These decoders treat "" (and null, or no field) as the zero
// time — receipts then show "0001-01-01T00:00:00Z", as upstream writes a
// missing time — and require RFC 3339 for any other string; a number, an
// object or a malformed time is still a protocol error.

// UnmarshalJSON decodes a release result, accepting created_at:"".
func (r *ReleaseResult) UnmarshalJSON(b []byte) error {
	type plain ReleaseResult
	var aux struct {
		*plain
		CreatedAt json.RawMessage `json:"created_at"`
	}
	aux.plain = (*plain)(r)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	t, err := lenientTime(aux.CreatedAt)
	r.CreatedAt = t
	return err
}

// UnmarshalJSON decodes pulled-pack facts, accepting created_at:"".
func (p *PulledPack) UnmarshalJSON(b []byte) error {
	type plain PulledPack
	var aux struct {
		*plain
		CreatedAt json.RawMessage `json:"created_at"`
	}
	aux.plain = (*plain)(p)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	t, err := lenientTime(aux.CreatedAt)
	p.CreatedAt = t
	return err
}

func lenientTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return time.Time{}, nil
	}
	var t time.Time
	err := json.Unmarshal(raw, &t)
	return t, err
}
