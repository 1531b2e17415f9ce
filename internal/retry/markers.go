package retry

import "time"

// Transient marks Err as worth another attempt, optionally no sooner than
// After (a server's Retry-After).
type Transient struct {
	Err   error
	After time.Duration
}

func (t *Transient) Error() string             { return t.Err.Error() }
func (t *Transient) Unwrap() error             { return t.Err }
func (t *Transient) Retryable() bool           { return true }
func (t *Transient) RetryAfter() time.Duration { return t.After }

// Permanent marks Err as not worth retrying even if its code would be.
type Permanent struct{ Err error }

func (p *Permanent) Error() string   { return p.Err.Error() }
func (p *Permanent) Unwrap() error   { return p.Err }
func (p *Permanent) Retryable() bool { return false }
