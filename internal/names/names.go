// Package names holds the one rule for the names a registry files packs
// under — stream, workspace, environment (and the registry's own run ids,
// versions and labels) — and the escaping that turns such a name into one
// safe path or object-key segment. `epack build`, push, pull and our
// registries all call Check, so a name the CLI accepts is a name every
// registry accepts, and the other way round.
//
// Reading a pack someone else made (verify, inspect) does not call Check: a
// stream name is free text in the pack format, and refusing to read a pack
// for its name would help no one.
package names

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evidencerelay/epack/errcode"
)

// Kind names what a name is for; it appears in error messages and selects
// the rules (only a stream may contain '/').
type Kind string

// The kinds the host and the registries check.
const (
	Stream      Kind = "stream"
	Workspace   Kind = "workspace"
	Environment Kind = "environment"
	RunID       Kind = "run id"
	Version     Kind = "version"
)

// MaxBytes bounds every name, raw and escaped: it must fit one path
// component on every file system and one segment of an object key.
const MaxBytes = 255

// rule is the text every refusal carries, so the user sees what is allowed.
func rule(kind Kind) string {
	if kind == Stream {
		return "a stream is 1-255 bytes of printable UTF-8, segments separated by single '/', no segment empty, blank, \".\" or \"..\", no '\\'"
	}
	return "a " + string(kind) + " is 1-255 bytes of printable UTF-8, not blank, \".\" or \"..\", without '/' or '\\'"
}

func refuse(kind Kind, format string, args ...any) error {
	return errcode.New(errcode.InvalidInput, format, args...).WithHint("%s", rule(kind))
}

// Check validates a name of the given kind and says which rule it breaks.
// Every name is valid UTF-8 of 1..MaxBytes bytes (also once escaped) with no
// NUL, control character or backslash, and is not blank (white space only).
// A stream is segments joined by '/', none of them empty, blank, "." or
// ".."; any other kind contains no '/' and is not "." or "..". Errors carry
// errcode.InvalidInput and a hint stating the rule.
func Check(kind Kind, s string) error {
	switch {
	case s == "":
		return refuse(kind, "%s is empty", kind)
	case len(s) > MaxBytes:
		return refuse(kind, "%s is too long (%d bytes, limit %d)", kind, len(s), MaxBytes)
	case !utf8.ValidString(s):
		return refuse(kind, "%s %q is not valid UTF-8", kind, s)
	}
	for _, r := range s {
		switch {
		case r == 0:
			return refuse(kind, "%s %q contains a NUL byte", kind, s)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return refuse(kind, "%s %q contains a control character", kind, s)
		case r == '\\':
			return refuse(kind, "%s %q contains a backslash", kind, s)
		}
	}
	if blank(s) {
		return refuse(kind, "%s %q is blank", kind, s)
	}
	if kind == Stream {
		for _, seg := range strings.Split(s, "/") {
			switch {
			case seg == "":
				return refuse(kind, "stream %q has an empty segment (leading, trailing or double '/')", s)
			case seg == "." || seg == "..":
				return refuse(kind, "stream %q has a %q segment", s, seg)
			case blank(seg):
				return refuse(kind, "stream %q has a blank segment", s)
			}
		}
	} else {
		if strings.ContainsRune(s, '/') {
			return refuse(kind, "%s %q contains '/'", kind, s)
		}
		if s == "." || s == ".." {
			return refuse(kind, "%s %q is not allowed", kind, s)
		}
	}
	if n := escapedLen(s); n > MaxBytes {
		return refuse(kind, "%s %q is too long once escaped (%d bytes, limit %d)", kind, s, n, MaxBytes)
	}
	return nil
}

// CheckOptional is Check for a workspace or environment that may be left
// out: "" means "the default" and is fine, but a value given as white space
// only is an error, never silently the default.
func CheckOptional(kind Kind, s string) error {
	if s == "" {
		return nil
	}
	return Check(kind, s)
}

func blank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }

// keep reports whether byte c at position i stays as it is when escaped.
func keep(c byte, i int) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == '.' && i > 0)
}

func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if keep(s[i], i) {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// Escape turns a checked name into one path or key segment: A-Z a-z 0-9 '-'
// '_' and '.' (except in first place) stay; every other byte, '/' and '%'
// included, becomes %XX (upper-case hex). The result never contains '/',
// is never "." or "..", never starts with '.' or '@' (so registries can use
// '@' names of their own), and differs for different names.
func Escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(escapedLen(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c, i) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
