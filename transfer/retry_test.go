package transfer

import (
	"fmt"
	"testing"
	"time"
)

// retry.Check is tested with transfer's markers (aliases of retry's) in
// internal/retry (TestCheck).

func TestProgressThrottle(t *testing.T) {
	// A fixed clock: only percentages can trigger calls, however slowly
	// this loop runs (race detector, loaded machine).
	clock := time.Unix(1e9, 0)
	fixed := func() time.Time { return clock }
	var calls []int64
	p := newProgress(func(w, total int64) { calls = append(calls, w) }, 1000)
	p.now = fixed
	for i := int64(1); i <= 1000; i++ {
		p.report(i)
	}
	p.final(1000)
	// One call at 0 % and one per further percent (1..100); the final one is
	// not repeated: exactly 101.
	if len(calls) != 101 || calls[len(calls)-1] != 1000 {
		t.Fatalf("%d calls, last %d", len(calls), calls[len(calls)-1])
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] < calls[i-1] {
			t.Fatal("not monotonic")
		}
	}
	// Unknown total: time-based only, and a final call.
	calls = nil
	p = newProgress(func(w, total int64) { calls = append(calls, w) }, 0)
	p.now = fixed
	for i := int64(1); i <= 100000; i++ {
		if i == 50000 {
			clock = clock.Add(progressEvery) // one interval passes mid-way
		}
		p.report(i)
	}
	p.final(100000)
	if want := []int64{1, 50000, 100000}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	// nil callback is fine.
	newProgress(nil, 10).report(5)
	(*progress)(nil).final(1)
}
