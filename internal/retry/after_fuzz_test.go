package retry

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseAfter: a server's Retry-After value, whatever its bytes, never
// panics and gives a wait in [0, MaxAfter]; a delta-seconds value and an
// HTTP date (second resolution) that it accepts give exactly the wait they
// name, capped at MaxAfter.
func FuzzParseAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []struct {
		h     string
		delta int64
	}{
		{"", 0}, {"0", 0}, {"5", 5}, {" 30 ", 30}, {"60", 60}, {"61", 61}, {"-1", -1},
		{"99999", 99999}, {"9223372036854775807", 1 << 62}, {"1e3", 0}, {"+7", 7}, {"0x10", 16},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10},
		{now.Add(-time.Hour).Format(http.TimeFormat), -3600},
		{now.Add(time.Hour).Format(time.RFC850), 3600},
		{now.Add(20 * time.Second).Format(time.ANSIC), 20},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0}, {"Mon, 01 Jan 10000 00:00:00 GMT", 0}, {"garbage", 0},
	} {
		f.Add(s.h, now.Unix(), s.delta)
	}
	f.Fuzz(func(t *testing.T, h string, nowUnix, delta int64) {
		// Keep now inside the years an HTTP date can write (0001-9999).
		const lo, span = -62135596800, 253402300799 + 62135596800
		nowUnix = lo + ((nowUnix%span)+span)%span
		now := time.Unix(nowUnix, 0).UTC()
		check := func(what string, h string, want time.Duration) {
			t.Helper()
			got := ParseAfter(h, now)
			if got < 0 || got > MaxAfter {
				t.Fatalf("%s: ParseAfter(%q, %s) = %v, outside [0, %v]", what, h, now, got, MaxAfter)
			}
			if want >= 0 && got != want {
				t.Fatalf("%s: ParseAfter(%q, %s) = %v, want %v", what, h, now, got, want)
			}
		}
		check("fuzzed", h, -1)

		want := func(secs int64) time.Duration {
			switch {
			case secs <= 0:
				return 0
			case secs >= int64(MaxAfter/time.Second):
				return MaxAfter
			}
			return time.Duration(secs) * time.Second
		}
		check("delta seconds", strconv.FormatInt(delta, 10), want(delta))

		// The same wait as an HTTP date, when that date can be written.
		d := delta % (1 << 40)
		if at := nowUnix + d; at >= lo && at < lo+span {
			check("HTTP date", time.Unix(at, 0).UTC().Format(http.TimeFormat), want(d))
		}
	})
}
