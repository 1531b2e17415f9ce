package retry

import (
	"context"
	"errors"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// retryabler is what an error implements when it knows whether another
// attempt can help (adapter errors carrying "retryable", transfer's
// transient and permanent markers).
type retryabler interface{ Retryable() bool }

// afterer is what an error implements when it carries a server's
// Retry-After.
type afterer interface{ RetryAfter() time.Duration }

// Check says whether err deserves another attempt and the shortest wait the
// server asked for (0 when none). The first error in the chain with a
// Retryable() bool method decides; failing that, errors coded
// errcode.NetworkError or errcode.Timeout are retried. A cancelled context
// is never retried.
func Check(err error) (bool, time.Duration) {
	if err == nil || errors.Is(err, context.Canceled) {
		return false, 0
	}
	var after time.Duration
	var a afterer
	if errors.As(err, &a) {
		after = a.RetryAfter()
	}
	var r retryabler
	if errors.As(err, &r) {
		return r.Retryable(), after
	}
	if errcode.Has(err, errcode.NetworkError) || errcode.Has(err, errcode.Timeout) {
		return true, after
	}
	return false, 0
}
