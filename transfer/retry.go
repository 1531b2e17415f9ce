package transfer

import (
	"context"

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

// transient and permanent are retry's markers: an error worth another
// attempt (with an optional Retry-After) and one that never is.
type (
	transient = retry.Transient
	permanent = retry.Permanent
)
