package remote

import (
	"encoding/json"
	"time"
)

// Adapters written against the upstream SDK send created_at:"" for "unknown"
// (COMPAT W25); encoding/json refuses that for time.Time. These decoders treat
// "" (and null) as the zero time and require RFC 3339 otherwise.

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
