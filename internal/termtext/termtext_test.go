package termtext

import (
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, block, line string }{
		{"plain text é", "plain text é", "plain text é"},
		{"a\nb\tc", "a\nb\tc", `a\nb\tc`},
		{"\r[OK] Pushed", `\r[OK] Pushed`, `\r[OK] Pushed`},
		{"\x1b[2Jred\x07", `\x1b[2Jred\x07`, `\x1b[2Jred\x07`},
		{"\u0085next", `\x85next`, `\x85next`},
		{"left\u202eright\u2066", `left\u202eright\u2066`, `left\u202eright\u2066`},
		{"bad\xffbyte", `bad\xffbyte`, `bad\xffbyte`},
		{"\xff", `\xff`, `\xff`},
		{"", "", ""},
	} {
		if got := Block(tc.in); got != tc.block {
			t.Errorf("Block(%q) = %q, want %q", tc.in, got, tc.block)
		}
		if got := Line(tc.in); got != tc.line {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"a\nb", "\x1b[31m", "\xff\xfe", "\u202e", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Line(%q) = %q is not valid UTF-8", s, out)
		}
		for _, r := range out {
			if unsafeRune(r, true) {
				t.Fatalf("Line(%q) = %q keeps %U", s, out, r)
			}
		}
		if b := Block(s); !utf8.ValidString(b) {
			t.Fatalf("Block(%q) = %q is not valid UTF-8", s, b)
		}
	})
}
