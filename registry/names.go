package registry

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
)

// MaxNameBytes bounds every user-supplied name, raw and escaped.
const MaxNameBytes = names.MaxBytes

// defaultSegment stands for an empty workspace or environment. '@' is always
// escaped in names, so no real name can collide with it.
const defaultSegment = "@default"

// allSegment is the environment-wide index folder (same reasoning).
const allSegment = "@all"

// Name kinds, used in error messages and for the per-kind rules.
const (
	KindWorkspace   = string(names.Workspace)
	KindEnvironment = string(names.Environment)
	KindStream      = string(names.Stream)
	KindRunID       = string(names.RunID)
	KindVersion     = string(names.Version)
)

// CheckName validates a user-supplied name of the given kind with the rule
// the host also applies at build, push and pull (internal/names), so the
// two can never disagree. A refusal is an invalid_request registry error.
func CheckName(kind, s string) error {
	if err := names.Check(names.Kind(kind), s); err != nil {
		return invalid("%v (%s)", err, errcode.HintOf(err))
	}
	return nil
}

// EscapeName turns a checked name into one safe path/key segment (see
// names.Escape): never '/', never "." or "..", never a leading '.' or '@',
// unique per name.
func EscapeName(s string) string { return names.Escape(s) }

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
