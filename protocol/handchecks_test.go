package protocol

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written checks must accept exactly what their regular
// expressions accept.
func TestHandChecksMatchTheirRegexps(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	id := "rel_" + strings.Repeat("0123456789ABCDEFGHJK", 2)[:26]
	cases := []struct {
		re    string
		check func(string) bool
		in    []string
	}{
		{`^sha256:[0-9a-f]{64}$`, isSHA256Digest, []string{
			"sha256:" + hex64, "sha256:" + hex64[:63], "sha256:" + hex64 + "0", "sha256:" + strings.ToUpper(hex64),
			"SHA256:" + hex64, "sha512:" + hex64, "sha256:" + hex64[:63] + "g", "", "sha256:", hex64,
		}},
		{`^rel_[0-9A-Z]{26}(/[1-9][0-9]{0,17})?$`, validLogName, []string{
			id, id + "/1", id + "/0", id + "/10", id + "/", id + "/123456789012345678", id + "/1234567890123456789",
			id[:29], id + "A", strings.ToLower(id), "rel-" + id[4:], id + "/1/2", id + "/-1", id + "/+1", id + "/1a", "",
		}},
	}
	for _, c := range cases {
		re := regexp.MustCompile(c.re)
		for _, s := range c.in {
			if got, want := c.check(s), re.MatchString(s); got != want {
				t.Errorf("%s on %q: hand check %v, regexp %v", c.re, s, got, want)
			}
		}
	}
}
