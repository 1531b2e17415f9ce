package jcs

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Policy decides which numbers are allowed and how they are written.
type Policy uint8

// Number policies.
const (
	// General accepts any finite number and writes it as ECMAScript's
	// Number.prototype.toString does (RFC 8785 §3.2.2.3).
	General Policy = iota
	// SafeInteger is the manifest policy: the value must be a whole number
	// in 0..2^53-1, in any JSON form (1e3, 1.5e3, 1000.0, -0); it is written
	// in plain decimal.
	SafeInteger
	// StrictInteger is SafeInteger that also refuses a mantissa with a
	// non-zero fractional part (1.2e3), as the JCS number vectors expect.
	StrictInteger
)

// MaxSafeInteger is 2^53-1, the largest integer every JSON consumer represents exactly.
const MaxSafeInteger = 1<<53 - 1

// Canonicalize parses data and returns its RFC 8785 canonical form under policy.
func Canonicalize(data []byte, policy Policy) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Append(nil, v, policy)
}

// Manifest canonicalizes the raw bytes of a manifest.json: the top-level value
// must be an object and every number must pass the SafeInteger policy.
func Manifest(data []byte) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if v.Kind != Object {
		return nil, &Error{ErrNotObject, -1, "manifest must be a JSON object, got " + v.Kind.String()}
	}
	return Append(make([]byte, 0, len(data)), v, SafeInteger)
}

// Append appends the canonical form of v to dst.
func Append(dst []byte, v *Value, policy Policy) ([]byte, error) {
	switch v.Kind {
	case Null:
		return append(dst, "null"...), nil
	case Bool:
		if v.Bool {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case String:
		return appendString(dst, v.Str), nil
	case Number:
		s, err := FormatNumber(v.Str, policy)
		if err != nil {
			return nil, err
		}
		return append(dst, s...), nil
	case Array:
		dst = append(dst, '[')
		for i := range v.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = Append(dst, &v.Items[i], policy); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	}
	idx := make([]int, len(v.Members))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return LessUTF16(v.Members[idx[a]].Key, v.Members[idx[b]].Key) })
	dst = append(dst, '{')
	for n, i := range idx {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, v.Members[i].Key)
		dst = append(dst, ':')
		var err error
		if dst, err = Append(dst, &v.Members[i].Value, policy); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// LessUTF16 reports whether a sorts before b when both are compared as
// sequences of UTF-16 code units (RFC 8785 §3.2.3).
func LessUTF16(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16First(ra), utf16First(rb)
			if ua != ub {
				return ua < ub
			}
			// Same high surrogate: compare the low ones.
			return utf16Second(ra) < utf16Second(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

func utf16First(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + ((r - 0x10000) >> 10)
	}
	return r
}

func utf16Second(r rune) rune {
	if r >= 0x10000 {
		return 0xDC00 + ((r - 0x10000) & 0x3FF)
	}
	return 0
}

const hexDigits = "0123456789abcdef"

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				dst = append(dst, c)
			}
		}
		i++
	}
	return append(dst, '"')
}

// FormatNumber checks a JSON number literal against policy and returns its
// canonical text.
func FormatNumber(lit string, policy Policy) (string, error) {
	if policy == General {
		return formatGeneral(lit)
	}
	n, err := parseInteger(lit, policy == StrictInteger)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(n, 10), nil
}

// ParseSafeInteger returns the value of a JSON number literal that must be a
// whole number in 0..2^53-1 (any form: 1e3, 1.5e3, 1000.0, -0).
func ParseSafeInteger(lit string) (int64, error) { return parseInteger(lit, false) }

func numErr(lit, why string) error {
	return &Error{ErrNumber, -1, "number " + strconvQuote(lit) + " " + why}
}

func strconvQuote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// parseInteger implements the integer policies with exact decimal arithmetic.
func parseInteger(lit string, strictMantissa bool) (int64, error) {
	s := lit
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	intPart, frac, exp := s, "", ""
	if i := strings.IndexAny(intPart, "eE"); i >= 0 {
		intPart, exp = intPart[:i], intPart[i+1:]
	}
	if i := strings.IndexByte(intPart, '.'); i >= 0 {
		intPart, frac = intPart[:i], intPart[i+1:]
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) || (strings.Contains(s, ".") && frac == "") {
		return 0, numErr(lit, "is invalid")
	}
	e := int64(0)
	if exp != "" || strings.ContainsAny(s, "eE") {
		es := exp
		eneg := false
		if es != "" && (es[0] == '+' || es[0] == '-') {
			eneg = es[0] == '-'
			es = es[1:]
		}
		if es == "" || !allDigits(es) {
			return 0, numErr(lit, "is invalid")
		}
		for _, c := range es {
			if e < 1e9 {
				e = e*10 + int64(c-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	if strictMantissa && strings.Trim(frac, "0") != "" {
		return 0, numErr(lit, "has a fractional mantissa")
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	e -= int64(len(frac))
	if digits == "" {
		return 0, nil // any form of zero, including -0
	}
	if neg {
		return 0, numErr(lit, "is negative")
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		e++
	}
	if e < 0 {
		return 0, numErr(lit, "is fractional")
	}
	if int64(len(digits))+e > 16 {
		return 0, numErr(lit, "exceeds 2^53-1")
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", int(e)), 10, 64)
	if err != nil || n > MaxSafeInteger {
		return 0, numErr(lit, "exceeds 2^53-1")
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// formatGeneral writes a finite double like ECMAScript Number::toString.
func formatGeneral(lit string) (string, error) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !isRangeErr(err) {
		return "", numErr(lit, "is invalid")
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", numErr(lit, "is not finite")
	}
	return FormatFloat(f), nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// FormatFloat writes a finite float64 as ECMAScript's Number.prototype.toString.
func FormatFloat(f float64) string {
	if f == 0 {
		return "0"
	}
	var b bytes.Buffer
	if f < 0 {
		b.WriteByte('-')
		f = -f
	}
	// Shortest round-trip digits and decimal exponent.
	es := strconv.FormatFloat(f, 'e', -1, 64) // d.ddddde±xx
	mant, expStr, _ := strings.Cut(es, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(expStr)
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String()
}
