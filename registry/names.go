package registry

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxNameBytes bounds every user-supplied name, raw and escaped.
const MaxNameBytes = 255

// defaultSegment stands for an empty workspace or environment. '@' is always
// escaped in names, so no real name can collide with it.
const defaultSegment = "@default"

// allSegment is the environment-wide index folder (same reasoning).
const allSegment = "@all"

// Name kinds, used in error messages and for the per-kind rules.
const (
	KindWorkspace   = "workspace"
	KindEnvironment = "environment"
	KindStream      = "stream"
	KindRunID       = "run id"
	KindVersion     = "version"
)

// CheckName validates a user-supplied name of the given kind. Every name must
// be valid UTF-8 of 1..255 bytes without NUL or control characters, and must
// not be "." or ".."; a stream may contain '/' between non-empty segments none
// of which is "." or ".."; other names may contain neither '/' nor '\'.
func CheckName(kind, s string) error {
	switch {
	case s == "":
		return invalid("%s is empty", kind)
	case len(s) > MaxNameBytes:
		return invalid("%s is too long (%d bytes, limit %d)", kind, len(s), MaxNameBytes)
	case !utf8.ValidString(s):
		return invalid("%s %q is not valid UTF-8", kind, s)
	}
	for _, r := range s {
		if r == 0 {
			return invalid("%s %q contains a NUL byte", kind, s)
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return invalid("%s %q contains a control character", kind, s)
		}
	}
	if strings.ContainsRune(s, '\\') {
		return invalid("%s %q contains a backslash", kind, s)
	}
	if kind == KindStream {
		for _, seg := range strings.Split(s, "/") {
			switch seg {
			case "":
				return invalid("stream %q has an empty segment (leading, trailing or double '/')", s)
			case ".", "..":
				return invalid("stream %q has a %q segment", s, seg)
			}
		}
	} else {
		if strings.ContainsRune(s, '/') {
			return invalid("%s %q contains '/'", kind, s)
		}
		if s == "." || s == ".." {
			return invalid("%s %q is not allowed", kind, s)
		}
	}
	if len(EscapeName(s)) > MaxNameBytes {
		return invalid("%s %q is too long once escaped (limit %d bytes)", kind, s, MaxNameBytes)
	}
	return nil
}

// EscapeName turns a checked name into one safe path/key segment: the bytes
// A-Z a-z 0-9 '-' '_' and '.' (except a leading '.') are kept; every other
// byte, '/' and '%' included, becomes %XX. The result never contains '/',
// is never "." or "..", never starts with '.' or '@', and is unique per name.
func EscapeName(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case c == '.' && i > 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// scopeSegment escapes a workspace or environment; empty means default.
func scopeSegment(kind, s string) (string, error) {
	if s == "" {
		return defaultSegment, nil
	}
	if err := CheckName(kind, s); err != nil {
		return "", err
	}
	return EscapeName(s), nil
}

// NewReleaseID returns "rel_" + 26 Crockford base32 characters: 48 bits of
// milliseconds since the epoch followed by 80 random bits, so ids sort by
// creation time and never collide in practice.
func NewReleaseID(now time.Time) string {
	var raw [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		raw[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(raw[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	// 128 bits → 26 base32 chars when encoded as 130 bits with 2 leading zero bits.
	return "rel_" + encode128(raw)
}

func encode128(raw [16]byte) string {
	// Encode 130 bits (two zero bits then the 128) into 26 symbols.
	const alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	out := make([]byte, 26)
	// Big-endian bit reader over 2 zero bits + raw.
	bit := func(i int) uint { // i in [0,130)
		if i < 2 {
			return 0
		}
		j := i - 2
		return uint(raw[j/8]>>(7-uint(j%8))) & 1
	}
	for k := 0; k < 26; k++ {
		var v uint
		for b := 0; b < 5; b++ {
			v = v<<1 | bit(k*5+b)
		}
		out[k] = alpha[v]
	}
	return string(out)
}

// ValidReleaseID reports whether s has the shape NewReleaseID produces.
func ValidReleaseID(s string) bool {
	if len(s) != 30 || !strings.HasPrefix(s, "rel_") {
		return false
	}
	for _, c := range s[4:] {
		if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", c) {
			return false
		}
	}
	return s[4] <= '7' // the first symbol carries only 3 bits
}

var tokenEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// newToken returns 128 random bits as 26 lowercase base32 characters.
func newToken() string {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(tokenEnc.EncodeToString(raw[:]))
}

func validToken(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// ParseDigest checks "sha256:<64 lowercase hex>" and returns the hex.
func ParseDigest(field, s string) (string, error) {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return "", invalid("%s %q is not sha256:<64 hex>", field, truncate(s))
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return "", invalid("%s %q is not sha256:<64 lowercase hex>", field, truncate(s))
	}
	return h, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
