package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
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
		{&transient{err: errors.New("x"), after: time.Second}, true},
		{&permanent{errcode.New(errcode.NetworkError, "x")}, false},
	}
	for i, c := range cases {
		if got, _ := IsRetryable(c.err); got != c.want {
			t.Errorf("%d: IsRetryable(%v) = %v, want %v", i, c.err, got, c.want)
		}
	}
	if _, after := IsRetryable(&transient{err: errors.New("x"), after: 3 * time.Second}); after != 3*time.Second {
		t.Fatalf("after %v", after)
	}
}

func TestRetry(t *testing.T) {
	p := RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond}
	// Succeeds on the third attempt.
	var seen []int
	err := Retry(context.Background(), p, func(a int) error {
		seen = append(seen, a)
		if a < 3 {
			return &adapterErr{true}
		}
		return nil
	})
	if err != nil || fmt.Sprint(seen) != "[1 2 3]" {
		t.Fatalf("%v %v", err, seen)
	}
	// Non-retryable: one attempt, error returned unchanged.
	seen = nil
	want := errcode.New(errcode.AuthRequired, "login")
	err = Retry(context.Background(), p, func(a int) error { seen = append(seen, a); return want })
	if err != want || len(seen) != 1 {
		t.Fatalf("%v %v", err, seen)
	}
	// Gives up after Attempts, keeping the code.
	seen = nil
	err = Retry(context.Background(), p, func(a int) error {
		seen = append(seen, a)
		return errcode.New(errcode.NetworkError, "down")
	})
	if errcode.Of(err) != errcode.NetworkError || len(seen) != 4 || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("%v %v", err, seen)
	}
	// Non-coded retryable errors stay matchable.
	ae := &adapterErr{true}
	err = Retry(context.Background(), p, func(int) error { return ae })
	var got *adapterErr
	if !errors.As(err, &got) || got != ae {
		t.Fatalf("%v", err)
	}
	// Zero policy = defaults.
	if d := (RetryPolicy{}).withDefaults(); d != DefaultRetryPolicy {
		t.Fatalf("%+v", d)
	}
}

func TestRetryBackoffBounds(t *testing.T) {
	p := RetryPolicy{Attempts: 10, Base: 100 * time.Millisecond, Max: time.Second}
	for attempt := 1; attempt < 10; attempt++ {
		ceil := min(p.Base<<(attempt-1), p.Max)
		for range 50 {
			if d := p.backoff(attempt); d < 0 || d > ceil {
				t.Fatalf("attempt %d: %v > %v", attempt, d, ceil)
			}
		}
	}
}

func TestRetryCancelDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := RetryPolicy{Attempts: 5, Base: time.Hour, Max: time.Hour}
	var mu sync.Mutex
	calls := 0
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := Retry(ctx, p, func(int) error {
		mu.Lock()
		calls++
		mu.Unlock()
		// Make sure the wait is long: Retry-After beats the (random) backoff.
		return &transient{err: errcode.New(errcode.NetworkError, "x"), after: time.Minute}
	})
	if errcode.Of(err) != errcode.Canceled || time.Since(start) > 20*time.Second || calls != 1 {
		t.Fatalf("%v after %v, %d calls", err, time.Since(start), calls)
	}
	// A deadline gives Timeout.
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	err = Retry(ctx, p, func(int) error { return &adapterErr{true} })
	if errcode.Of(err) != errcode.Timeout {
		t.Fatalf("%v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":      0,
		"1":     time.Second,
		" 5 ":   5 * time.Second,
		"0":     0,
		"-3":    0,
		"99999": MaxRetryAfter,
		"soon":  0,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(time.Hour).Format(http.TimeFormat):        MaxRetryAfter,
	}
	for h, want := range cases {
		if got := parseRetryAfter(h, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", h, got, want)
		}
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
