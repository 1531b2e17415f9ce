package transfer

import (
	"fmt"
	"testing"
)

// FuzzParseContentRange: a server's Content-Range header, whatever its
// bytes, never panics; an accepted one has start and end >= 0 and a total
// that is -1 ("*") or >= 0, and writing those values back out as
// "bytes start-end/total" parses to the same values.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-9/10", "bytes 0-9/*", "bytes -1-2/3", "bytes 9223372036854775807-0/1", "", "items 0-1/2",
		" bytes 5-4/3 ", "bytes 0-0/0", "bytes 0-9/-1", "bytes 0-9/-5", "bytes +1-+2/+3", "bytes 0--0/1",
		"bytes 0-9", "bytes 0/10", "bytes 1-2/9223372036854775808", "bytes */10", "bytes  0-9/10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		start, end, total, ok := parseContentRange(h)
		if !ok {
			return
		}
		if start < 0 || end < 0 || total < -1 {
			t.Fatalf("%q: accepted start %d, end %d, total %d", h, start, end, total)
		}
		again := fmt.Sprintf("bytes %d-%d/%d", start, end, total)
		if total == -1 {
			again = fmt.Sprintf("bytes %d-%d/*", start, end)
		}
		s2, e2, t2, ok2 := parseContentRange(again)
		if !ok2 || s2 != start || e2 != end || t2 != total {
			t.Fatalf("%q gave %d-%d/%d, but %q gives %d-%d/%d (ok %v)", h, start, end, total, again, s2, e2, t2, ok2)
		}
	})
}
