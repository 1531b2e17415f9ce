package names

import (
	"regexp"
	"strings"
	"testing"
)

// Token must agree with the regular expression it replaces on every input.
func TestTokenMatchesItsRegexp(t *testing.T) {
	cases := []struct {
		re          string
		first, rest string
		max         int
	}{
		{`^[a-z0-9][a-z0-9._-]{0,63}$`, Lower + Digits, Lower + Digits + "._-", 63},
		{`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`, Upper + Lower + Digits, Upper + Lower + Digits + "._:-", 127},
		{`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`, Lower + Upper + Digits + "_", Lower + Upper + Digits + "._-", 127},
	}
	inputs := []string{"", "a", "A", "-", "_a", "a-", "a..b", "a b", "a\x00", "é", "aé", "a/b", "a:b",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 128), strings.Repeat("a", 129), "a\n"}
	for _, c := range cases {
		re := regexp.MustCompile(c.re)
		for _, in := range inputs {
			if got, want := Token(in, c.first, c.rest, c.max), re.MatchString(in); got != want {
				t.Errorf("%s on %q: Token %v, regexp %v", c.re, in, got, want)
			}
		}
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"a", "a.b-c_d", "", "-x", strings.Repeat("z", 70), "A:b"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Token(s, Upper+Lower+Digits, Upper+Lower+Digits+"._:-", 127), re.MatchString(s); got != want {
			t.Fatalf("%q: Token %v, regexp %v", s, got, want)
		}
	})
}
