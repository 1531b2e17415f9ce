package retry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseAfter reads a Retry-After header value, either delta seconds or an
// HTTP date relative to now, capped at MaxAfter. Anything unreadable, zero
// or in the past gives 0: the normal backoff applies.
func ParseAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxAfter/time.Second) {
			return MaxAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d <= 0 {
			return 0
		}
		return min(d, MaxAfter)
	}
	return 0
}
