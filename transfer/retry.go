package transfer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// RetryPolicy bounds retries. Zero fields take the defaults of
// DefaultRetryPolicy.
type RetryPolicy struct {
	Attempts int           // total attempts including the first (default 5)
	Base     time.Duration // first backoff ceiling (default 500ms)
	Max      time.Duration // backoff ceiling (default 30s)
}

// DefaultRetryPolicy is used for zero fields of a RetryPolicy.
var DefaultRetryPolicy = RetryPolicy{Attempts: 5, Base: 500 * time.Millisecond, Max: 30 * time.Second}

// MaxRetryAfter caps how long a server's Retry-After can make us wait.
const MaxRetryAfter = 60 * time.Second

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryPolicy.Attempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetryPolicy.Base
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryPolicy.Max
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	return p
}

// backoff returns the full-jitter delay before attempt+1 (attempt counts from 1).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceil := p.Base
	for i := 1; i < attempt && ceil < p.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.Max)
	return rand.N(ceil + 1)
}

// retryabler is implemented by errors that know whether retrying can help
// (adapter errors with "retryable", our own transient transfer errors).
type retryabler interface{ Retryable() bool }

// retryAfterer is implemented by errors carrying a server's Retry-After.
type retryAfterer interface{ RetryAfter() time.Duration }

// IsRetryable reports whether err is worth another attempt, and the minimum
// wait the server asked for (0 if none). The first error in the chain that
// has a Retryable() bool method decides; otherwise errors coded
// errcode.NetworkError or errcode.Timeout are retryable. Context
// cancellation never is.
func IsRetryable(err error) (bool, time.Duration) {
	if err == nil || errors.Is(err, context.Canceled) {
		return false, 0
	}
	var after time.Duration
	var ra retryAfterer
	if errors.As(err, &ra) {
		after = ra.RetryAfter()
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

// Retry calls fn with attempt = 1, 2, … until it succeeds, returns an error
// that is not retryable, the attempts of p are used up, or ctx ends. Between
// attempts it waits a random time in [0, min(Max, Base·2^(attempt-1))] (full
// jitter), but at least the error's Retry-After (capped at MaxRetryAfter).
// When it gives up after several attempts the last error is returned with the
// attempt count added to its message; its code is kept.
func Retry(ctx context.Context, p RetryPolicy, fn func(attempt int) error) error {
	p = p.withDefaults()
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			return ctxError(ctx, err)
		}
		err = fn(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx, err)
		}
		ok, after := IsRetryable(err)
		if !ok {
			return err
		}
		if attempt >= p.Attempts {
			return gaveUp(err, attempt)
		}
		wait := max(p.backoff(attempt), min(after, MaxRetryAfter))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxError(ctx, err)
		case <-t.C:
		}
	}
}

func gaveUp(err error, attempts int) error {
	if attempts <= 1 {
		return err
	}
	msg := fmt.Sprintf("gave up after %d attempts", attempts)
	if code := errcode.Of(err); code != "" {
		return &errcode.Error{Code: code, Message: msg, Err: err}
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// ctxError turns the end of ctx into a coded error (Timeout for a deadline,
// Canceled otherwise), keeping the last attempt's error in the message.
func ctxError(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	code := errcode.Canceled
	// A deadline given a cause (context.WithTimeoutCause) reports that
	// cause, not DeadlineExceeded: ask ctx.Err() too.
	if errors.Is(cause, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = errcode.Timeout
	}
	if last != nil && !errors.Is(last, context.Canceled) && !errors.Is(last, context.DeadlineExceeded) {
		return errcode.Wrap(code, errors.Join(cause, last), "transfer stopped")
	}
	return errcode.Wrap(code, cause, "transfer stopped")
}

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

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d <= 0 {
			return 0
		}
		return min(d, MaxRetryAfter)
	}
	return 0
}
