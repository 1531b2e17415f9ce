package pack

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evidencerelay/epack/errcode"
	"golang.org/x/text/unicode/norm"
)

// ValidatePath applies the general ZIP entry path rules (COMPAT §1.8) to p
// and returns an invalid_path error naming the first rule it breaks.
func ValidatePath(p string) error {
	bad := func(why string) error {
		return errcode.New(errcode.InvalidPath, "invalid path %q: %s", p, why)
	}
	switch {
	case p == "":
		return bad("empty")
	case strings.HasSuffix(p, "/"):
		return bad("ends with '/'")
	case strings.HasPrefix(p, "/"):
		return bad("absolute path")
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return bad("control character")
		}
	}
	switch {
	case strings.Contains(p, `\`):
		return bad("backslash")
	case len(p) >= 2 && p[1] == ':' && isASCIILetter(p[0]):
		return bad("drive letter")
	case strings.Contains(p, ":"):
		return bad("colon")
	case len(p) > MaxPathLen:
		return bad("longer than 240 bytes")
	case !norm.NFC.IsNormalString(p):
		return bad("not in Unicode NFC form")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return bad("empty segment")
		case seg == "." || seg == ".." || strings.HasPrefix(seg, ".."):
			return bad("'.' or '..' segment")
		case len(seg) > MaxSegmentLen:
			return bad("segment longer than 80 bytes")
		case isReservedName(seg):
			return bad("Windows reserved name")
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return bad("segment ends with '.' or space")
		}
	}
	return nil
}

// isAppleDouble reports macOS metadata entries: __MACOSX/…, AppleDouble
// "._name" files and Finder ".DS_Store" files, at any depth.
func isAppleDouble(p string) bool {
	if strings.HasPrefix(p, "__MACOSX/") {
		return true
	}
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, "._") || seg == ".DS_Store" {
			return true
		}
	}
	return false
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// isReservedName reports Windows device names (con, prn, aux, nul, com1-9,
// lpt1-9), compared case-insensitively on the part before the first dot.
func isReservedName(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.ToLower(base)
	switch base {
	case "con", "prn", "aux", "nul":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) {
		return base[3] >= '1' && base[3] <= '9'
	}
	return false
}

// ValidateArtifactPath checks an artifact path: under artifacts/, not the
// folder itself, and valid by the general rules.
func validateArtifactPath(p string) error {
	if !strings.HasPrefix(p, "artifacts/") || p == "artifacts/" {
		return errcode.New(errcode.InvalidPath, "invalid artifact path %q: must be a file under artifacts/", p)
	}
	return ValidatePath(p)
}

// collisionKey returns the Windows collision key of p: each segment with
// trailing dots and spaces removed, lowercased. Two paths with the same key
// would name the same file on Windows or macOS.
func collisionKey(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ToLower(strings.TrimRight(s, ". "))
	}
	return strings.Join(segs, "/")
}

// IsAttestationPath reports whether p names an attestation:
// attestations/<name>.sigstore.json directly under attestations/.
func isAttestationPath(p string) bool {
	name, ok := strings.CutPrefix(p, "attestations/")
	if !ok || strings.Contains(name, "/") {
		return false
	}
	stem, ok := strings.CutSuffix(name, ".sigstore.json")
	return ok && stem != ""
}

// SidecarPath returns the run-results folder that belongs to a pack file:
// the pack path with a trailing ".epack" replaced by ".runs" (or ".runs" added).
func SidecarPath(packPath string) string {
	if s, ok := strings.CutSuffix(packPath, ".epack"); ok {
		return s + ".runs"
	}
	return packPath + ".runs"
}
