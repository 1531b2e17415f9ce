package transfer

import (
	"context"
	"time"

	"github.com/evidencerelay/epack/internal/retry"
)

// RetryPolicy bounds the retries of a Client's transfers; zero fields take
// the values of DefaultRetryPolicy. It is the policy of the module's one
// retry loop (internal/retry), named here so callers can set Client.Retry.
type RetryPolicy = retry.Policy

// DefaultRetryPolicy fills the zero fields of a RetryPolicy.
var DefaultRetryPolicy = retry.Default

// ctxError turns the end of ctx into a coded error, keeping last.
func ctxError(ctx context.Context, last error) error { return retry.Stopped(ctx, last) }

// transient marks an error as retryable, with an optional Retry-After.
type transient struct {
	err   error
	after time.Duration
}

func (t *transient) Error() string             { return t.err.Error() }
func (t *transient) Unwrap() error             { return t.err }
func (t *transient) Retryable() bool           { return true }
func (t *transient) RetryAfter() time.Duration { return t.after }

// permanent marks an error as not worth retrying even if its code would be.
type permanent struct{ err error }

func (p *permanent) Error() string   { return p.err.Error() }
func (p *permanent) Unwrap() error   { return p.err }
func (p *permanent) Retryable() bool { return false }
