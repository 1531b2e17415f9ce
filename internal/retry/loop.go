package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// Do calls fn with attempt = 1, 2, … until it succeeds, fails in a way
// Check does not retry, uses up p's attempts, or ctx ends. Between attempts
// it waits the jittered backoff of p, but never less than the error's
// Retry-After (capped at MaxAfter). When it gives up after more than one
// attempt the last error comes back with the count in its message and its
// code kept; when ctx ends the error is Stopped's.
func Do(ctx context.Context, p Policy, fn func(attempt int) error) error {
	p = p.withDefaults()
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			return Stopped(ctx, err)
		}
		err = fn(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return Stopped(ctx, err)
		}
		ok, after := Check(err)
		if !ok {
			return err
		}
		if attempt >= p.Attempts {
			return gaveUp(err, attempt)
		}
		wait := max(p.backoff(attempt), min(after, MaxAfter))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Stopped(ctx, err)
		case <-t.C:
		}
	}
}

// gaveUp adds the attempt count to the last error, keeping its code (and
// adding none when it had none).
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

// Stopped turns the end of ctx into a coded error: errcode.Timeout for a
// deadline, errcode.Canceled otherwise. The context's cause and, when given,
// the last attempt's error both stay in the chain so the user sees why.
func Stopped(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	code := errcode.Canceled
	// With context.WithTimeoutCause the cause replaces DeadlineExceeded,
	// so look at ctx.Err() as well.
	if errors.Is(cause, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = errcode.Timeout
	}
	if last != nil && !errors.Is(last, context.Canceled) && !errors.Is(last, context.DeadlineExceeded) {
		return errcode.Wrap(code, errors.Join(cause, last), "transfer stopped")
	}
	return errcode.Wrap(code, cause, "transfer stopped")
}
