package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/evidencerelay/epack/internal/retry"
)

// AdapterRetry is the backoff for adapter errors marked retryable.
var AdapterRetry = retry.Policy{Attempts: 4, Base: 250 * time.Millisecond, Max: 5 * time.Second}

// Call runs one adapter command under AdapterRetry: an answer marked
// retryable is tried again with backoff. The final failure is wrapped as
// "<command> failed: …" so the user sees which call it was.
func Call[T any](ctx context.Context, command string, call func(context.Context) (T, error)) (T, error) {
	var out T
	err := retry.Do(ctx, AdapterRetry, func(int) error {
		var err error
		out, err = call(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s failed: %w", command, err)
	}
	return out, nil
}
