package remote

import "testing"

// TestRedactOverlappingSecrets: secrets that share characters, or one
// secret occurring overlapped with itself, leave nothing of either visible;
// separate occurrences stay separate marks.
func TestRedactOverlappingSecrets(t *testing.T) {
	cases := []struct {
		secrets []string
		in, out string
	}{
		{[]string{"abcd", "cdef"}, "xabcdefy", "x[REDACTED]y"},
		{[]string{"cdef", "abcd"}, "xabcdefy", "x[REDACTED]y"},
		{[]string{"abab"}, "ababab", "[REDACTED]"},
		{[]string{"abcdef", "bcde"}, "-abcdef-", "-[REDACTED]-"},
		{[]string{"abcd", "wxyz"}, "abcd wxyz abcdwxyz", "[REDACTED] [REDACTED] [REDACTED][REDACTED]"},
		{[]string{"abcd"}, "nothing here", "nothing here"},
	}
	for _, c := range cases {
		r := newRedactor(c.secrets, false)
		if got := r.String(c.in); got != c.out {
			t.Errorf("%v in %q: String = %q, want %q", c.secrets, c.in, got, c.out)
		}
		if got := string(r.Bytes([]byte(c.in))); got != c.out {
			t.Errorf("%v in %q: Bytes = %q, want %q", c.secrets, c.in, got, c.out)
		}
	}
}
