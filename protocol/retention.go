package protocol

import (
	"fmt"
	"time"
)

// Retention is our addition to the push.finalize answer's release, to each
// releases.list entry and to the pull.prepare answer: how long a registry
// with write-once storage (S3 Object Lock) keeps the release, and whether
// it is under legal hold.
//
//	"retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01T09:00:01Z","legal_hold":true}
//
// It is absent when the registry keeps no retention (a filesystem folder,
// an S3 bucket without extensions.object_lock), and a host accepts answers
// without it; the existing tool's host ignores it. retain_until is RFC 3339
// (UTC); the release's objects are kept at least until then: the later of
// the registry's default period from the release's creation and what a push
// asked for (push --retain). legal_hold is sent only when the registry
// reads it, and only when true.
type Retention struct {
	// Mode is RetentionGovernance or RetentionCompliance.
	Mode string `json:"mode"`
	// RetainUntil is RFC 3339 ("" when the registry does not know it).
	RetainUntil string `json:"retain_until,omitempty"`
	// LegalHold: the release is under legal hold (release.hold).
	LegalHold bool `json:"legal_hold,omitempty"`
}

// Object Lock retention modes.
const (
	RetentionGovernance = "GOVERNANCE"
	RetentionCompliance = "COMPLIANCE"
)

// NewRetention is the retention of mode until until (UTC, whole seconds).
func NewRetention(mode string, until time.Time, hold bool) *Retention {
	r := &Retention{Mode: mode, LegalHold: hold}
	if !until.IsZero() {
		r.RetainUntil = until.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return r
}

// Until is RetainUntil as a time (zero when absent or malformed).
func (r *Retention) Until() time.Time {
	if r == nil || r.RetainUntil == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, r.RetainUntil)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Check refuses a retention of another mode or with a retain_until that is
// not an RFC 3339 time; nil is fine (no retention).
func (r *Retention) Check() error {
	if r == nil {
		return nil
	}
	if r.Mode != RetentionGovernance && r.Mode != RetentionCompliance {
		return fmt.Errorf("mode %.40q is not %s or %s", r.Mode, RetentionGovernance, RetentionCompliance)
	}
	if r.RetainUntil != "" {
		if _, err := time.Parse(time.RFC3339, r.RetainUntil); err != nil {
			return fmt.Errorf("retain_until %.40q is not an RFC 3339 time", r.RetainUntil)
		}
	}
	return nil
}

// Terms is the mode, with ", legal hold" when held: "COMPLIANCE, legal
// hold"; each way of showing a retention puts it after the date.
func (r *Retention) Terms() string {
	if r.LegalHold {
		return r.Mode + ", legal hold"
	}
	return r.Mode
}

// Summary is the one line a host prints for it: "Retained until
// 2033-12-01 09:00:01 UTC (COMPLIANCE, legal hold)".
func (r *Retention) Summary() string {
	if r == nil {
		return ""
	}
	what := r.Terms()
	if u := r.Until(); !u.IsZero() {
		return fmt.Sprintf("Retained until %s (%s)", u.Format("2006-01-02 15:04:05 UTC"), what)
	}
	return fmt.Sprintf("Retained (%s)", what)
}
