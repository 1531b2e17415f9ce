package protocol

import (
	"fmt"
	"testing"
	"time"
)

// FuzzParseRetention: a retention period from a request or epack.yaml, any
// text; parsing never panics, an accepted period is positive, whole hours
// and without overflow, and the same number of hours written as "<n>h"
// reads back to it.
func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{
		"7y", "90d", "36h", "1h", "146y", "147y", "0d", "-1d", "+1d", "1m", "y", "", "1", "01d", "1.5y", " 7y",
		"8784000h", "8784001h", "4294967296h", "9999999999y", "1d\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseRetention(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("%q: error %v with %v", s, err, d)
			}
			return
		}
		if d <= 0 || d > 1<<62 || d%time.Hour != 0 {
			t.Fatalf("%q: accepted %v", s, d)
		}
		h := fmt.Sprintf("%dh", d/time.Hour)
		if d2, err := ParseRetention(h); err != nil || d2 != d {
			t.Fatalf("%q gives %v, but %q gives %v, %v", s, d, h, d2, err)
		}
	})
}
