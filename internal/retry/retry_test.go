package retry

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

// adapterErr stands in for remote.AdapterError: no errcode, but it knows
// whether it is retryable.
type adapterErr struct{ retryable bool }

func (a *adapterErr) Error() string   { return fmt.Sprintf("adapter error (retryable=%v)", a.retryable) }
func (a *adapterErr) Retryable() bool { return a.retryable }

// The markers under their short test names.
type (
	transient = Transient
	permanent = Permanent
)

func TestCheck(t *testing.T) {
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
		if got, _ := Check(c.err); got != c.want {
			t.Errorf("%d: Check(%v) = %v, want %v", i, c.err, got, c.want)
		}
	}
	if _, after := Check(&transient{Err: errors.New("x"), After: 3 * time.Second}); after != 3*time.Second {
		t.Fatalf("after %v", after)
	}
}

func TestRetry(t *testing.T) {
	p := Policy{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond}
	// Succeeds on the third attempt.
	var seen []int
	err := Do(context.Background(), p, func(a int) error {
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
	err = Do(context.Background(), p, func(a int) error { seen = append(seen, a); return want })
	if err != want || len(seen) != 1 {
		t.Fatalf("%v %v", err, seen)
	}
	// Gives up after Attempts, keeping the code.
	seen = nil
	err = Do(context.Background(), p, func(a int) error {
		seen = append(seen, a)
		return errcode.New(errcode.NetworkError, "down")
	})
	if errcode.Of(err) != errcode.NetworkError || len(seen) != 4 || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("%v %v", err, seen)
	}
	// Non-coded retryable errors stay matchable.
	ae := &adapterErr{true}
	err = Do(context.Background(), p, func(int) error { return ae })
	var got *adapterErr
	if !errors.As(err, &got) || got != ae {
		t.Fatalf("%v", err)
	}
	// Zero policy = defaults.
	if d := (Policy{}).withDefaults(); d != Default {
		t.Fatalf("%+v", d)
	}
}

func TestRetryBackoffBounds(t *testing.T) {
	p := Policy{Attempts: 10, Base: 100 * time.Millisecond, Max: time.Second}
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
	p := Policy{Attempts: 5, Base: time.Hour, Max: time.Hour}
	var mu sync.Mutex
	calls := 0
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := Do(ctx, p, func(int) error {
		mu.Lock()
		calls++
		mu.Unlock()
		// Make sure the wait is long: Retry-After beats the (random) backoff.
		return &transient{Err: errcode.New(errcode.NetworkError, "x"), After: time.Minute}
	})
	if errcode.Of(err) != errcode.Canceled || time.Since(start) > 20*time.Second || calls != 1 {
		t.Fatalf("%v after %v, %d calls", err, time.Since(start), calls)
	}
	// A deadline gives Timeout.
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	err = Do(ctx, p, func(int) error { return &adapterErr{true} })
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
		"99999": MaxAfter,
		"soon":  0,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(time.Hour).Format(http.TimeFormat):        MaxAfter,
	}
	for h, want := range cases {
		if got := ParseAfter(h, now); got != want {
			t.Errorf("ParseAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestBackoffGrowsAndReachesItsCeiling: the jitter range doubles with each
// attempt up to Max, and its top value is reachable. (Samples are random;
// with these counts a wrong range passes with probability below 1e-20.)
func TestBackoffGrowsAndReachesItsCeiling(t *testing.T) {
	p := Policy{Attempts: 10, Base: 100 * time.Millisecond, Max: time.Second}
	var top time.Duration
	for range 200 {
		top = max(top, p.backoff(5))
	}
	if top <= p.Base {
		t.Fatalf("attempt 5 waited at most %v: the range did not grow past Base %v", top, p.Base)
	}
	// A one-nanosecond ceiling: both 0 and 1 ns come up.
	tiny := Policy{Attempts: 2, Base: 1, Max: 1}
	seen := map[time.Duration]bool{}
	for range 200 {
		seen[tiny.backoff(1)] = true
	}
	if len(seen) != 2 || !seen[0] || !seen[1] {
		t.Fatalf("backoff with a 1ns ceiling gave %v, want both 0 and 1", seen)
	}
}

// TestRetrySingleAttemptAndGivingUp: with one attempt the error comes back
// as it was; after several, an uncoded error is wrapped with the count but
// does not gain an (empty) error code.
func TestRetrySingleAttemptAndGivingUp(t *testing.T) {
	want := &transient{Err: errcode.New(errcode.NetworkError, "down")}
	var calls int
	err := Do(context.Background(), Policy{Attempts: 1, Base: time.Millisecond}, func(int) error { calls++; return want })
	if err != want || calls != 1 {
		t.Fatalf("one attempt: %v (%d calls), want the error unchanged", err, calls)
	}
	ae := &adapterErr{true}
	err = Do(context.Background(), Policy{Attempts: 2, Base: time.Millisecond}, func(int) error { return ae })
	var ce *errcode.Error
	if errors.As(err, &ce) {
		t.Fatalf("uncoded error gained an errcode wrapper %+v", ce)
	}
	var got *adapterErr
	if !errors.As(err, &got) || got != ae || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("%v", err)
	}
}

// TestRetryKeepsCauseAndLastError: when the caller's context ends, the
// error carries the caller's cancel cause and the last attempt's error.
func TestRetryKeepsCauseAndLastError(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("operator pressed stop")
	var calls int
	err := Do(ctx, Policy{Attempts: 5, Base: time.Millisecond}, func(int) error {
		calls++
		if calls == 2 {
			cancel(stop)
		}
		return errcode.New(errcode.NetworkError, "bucket unreachable")
	})
	if errcode.Of(err) != errcode.Canceled {
		t.Fatalf("code %q, want %q: %v", errcode.Of(err), errcode.Canceled, err)
	}
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "operator pressed stop") {
		t.Fatalf("cause lost: %v", err)
	}
	if !strings.Contains(err.Error(), "bucket unreachable") || calls != 2 {
		t.Fatalf("last error lost or extra attempts (%d): %v", calls, err)
	}
	// A deadline with a cause: Timeout, with the cause.
	late := errors.New("push window closed")
	ctx2, cancel2 := context.WithTimeoutCause(context.Background(), time.Nanosecond, late)
	defer cancel2()
	<-ctx2.Done()
	err = Do(ctx2, Policy{}, func(int) error { t.Fatal("attempt after the deadline"); return nil })
	if errcode.Of(err) != errcode.Timeout {
		t.Fatalf("code %q, want %q: %v", errcode.Of(err), errcode.Timeout, err)
	}
	if !errors.Is(err, late) {
		t.Fatalf("deadline cause lost: %v", err)
	}
}
