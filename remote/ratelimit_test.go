package remote

import (
	"context"
	"testing"
	"time"
)

// The bucket: exactly one token is enough for a call, the refill is capped
// at the burst, and an empty bucket waits about 1/rate for its next token
// (the call returns) instead of a time that grows with the rate.
func TestLimiterTokens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		l     *limiter
		empty bool    // emptied just before the call
		left  float64 // tokens after one wait; -1: only that it returned
	}{
		{name: "exactly one token", l: &limiter{rate: 10, burst: 5, tokens: 1}},
		{name: "full bucket", l: &limiter{rate: 10, burst: 5, tokens: 5}, left: 4},
		{name: "refill capped at the burst", l: &limiter{rate: 10, burst: 5, last: time.Now().Add(-time.Hour)}, left: 4},
		{name: "empty bucket", l: &limiter{rate: 100, burst: 1}, empty: true, left: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.empty {
				tc.l.tokens, tc.l.last = 0, time.Now()
			}
			if err := tc.l.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tc.left >= 0 && tc.l.tokens != tc.left {
				t.Fatalf("%v tokens left, want %v", tc.l.tokens, tc.left)
			}
		})
	}
}
