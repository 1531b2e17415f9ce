// Package termtext makes text that comes from outside epack (adapters,
// registries, manifests) safe to print on a terminal: control characters
// (ESC, BEL, CR, C1 codes …), invalid UTF-8 and bidirectional overrides are
// shown as Go-style escapes instead of being interpreted, so such text can
// neither move the cursor nor recolour, hide or reorder epack's own output.
package termtext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Block escapes s for the terminal, keeping newlines and tabs.
func Block(s string) string { return escape(s, false) }

// Line escapes s like Block and also its newlines and tabs (as \n, \t), so
// the text stays on one line and cannot start a line that passes for
// epack's own ("[OK] Pushed …").
func Line(s string) string { return escape(s, true) }

func escape(s string, oneLine bool) string {
	unsafe := func(r rune) bool { return unsafeRune(r, oneLine) }
	valid := utf8.ValidString(s)
	i := strings.IndexFunc(s, unsafe)
	if i < 0 && valid {
		return s
	}
	if i < 0 || !valid {
		i = 0 // an invalid byte may come before the first unsafe rune
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for j := i; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[j])
		case !unsafe(r):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		j += size
	}
	return b.String()
}

func unsafeRune(r rune, oneLine bool) bool {
	if r == '\n' || r == '\t' {
		return oneLine
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
