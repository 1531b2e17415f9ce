package remote

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket paced like the existing tool's adapter calls.
// Each Session has its own: adapter calls are spawned processes, and a bug
// looping over them must not fork-bomb the machine or hammer a registry,
// yet two sessions in one process (a Go program pushing to two remotes)
// must not slow each other down.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// callPace is the rate and burst every new session's limiter starts with
// (a setting, not shared state; tests of this package raise it).
var callPace = struct{ rate, burst float64 }{rate: 10, burst: 5}

// newLimiter returns a full bucket at callPace.
func newLimiter() *limiter {
	return &limiter{rate: callPace.rate, burst: callPace.burst, tokens: callPace.burst}
}

// wait blocks until a token is available or ctx is done.
func (l *limiter) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		if !l.last.IsZero() {
			l.tokens += now.Sub(l.last).Seconds() * l.rate
			if l.tokens > l.burst {
				l.tokens = l.burst
			}
		}
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		t := time.NewTimer(need)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
