package transfer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
)

// adapterErr mimics remote.AdapterError: not an errcode error, but it knows
// whether it is retryable.
type adapterErr struct{ retryable bool }

func (a *adapterErr) Error() string   { return fmt.Sprintf("adapter error (retryable=%v)", a.retryable) }
func (a *adapterErr) Retryable() bool { return a.retryable }

func TestIsRetryable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), false},
		{errcode.New(errcode.NetworkError, "x"), true},
		{errcode.New(errcode.Timeout, "x"), true},
		{errcode.New(errcode.UploadFailed, "x"), false},
		{errcode.New(errcode.URLExpired, "x"), false},
		{&adapterErr{true}, true},
		{&adapterErr{false}, false},
		{fmt.Errorf("wrapped: %w", &adapterErr{true}), true},
		{errcode.Wrap(errcode.AdapterError, &adapterErr{true}, "push.prepare"), true},
		// An explicit "not retryable" wins over a network code.
		{errcode.Wrap(errcode.NetworkError, &adapterErr{false}, "x"), false},
		{context.Canceled, false},
		{errcode.Wrap(errcode.NetworkError, context.Canceled, "x"), false},
		{&transient{Err: errors.New("x"), After: time.Second}, true},
		{&permanent{Err: errcode.New(errcode.NetworkError, "x")}, false},
	}
	for i, c := range cases {
		if got, _ := retry.Check(c.err); got != c.want {
			t.Errorf("%d: retry.Check(%v) = %v, want %v", i, c.err, got, c.want)
		}
	}
	if _, after := retry.Check(&transient{Err: errors.New("x"), After: 3 * time.Second}); after != 3*time.Second {
		t.Fatalf("after %v", after)
	}
}

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
