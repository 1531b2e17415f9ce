package names

import "strings"

// ASCII character sets for Token.
const (
	Lower  = "abcdefghijklmnopqrstuvwxyz"
	Upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	Digits = "0123456789"
)

// Token reports whether s is one byte of first followed by at most maxRest
// bytes of rest: the shape ^[first][rest]{0,maxRest}$ of the identifiers in
// the formats (remote names, run ids, tags), checked without a regular
// expression because compiling a counted repetition costs every process
// start about a millisecond.
func Token(s, first, rest string, maxRest int) bool {
	if len(s) == 0 || len(s)-1 > maxRest || strings.IndexByte(first, s[0]) < 0 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(rest, s[i]) < 0 {
			return false
		}
	}
	return true
}
