package sourceinstall

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
)

// Source is a parsed `source:` value: owner/repo@constraint.
type Source struct {
	Owner      string
	Repo       string
	Constraint Constraint
}

// ghName is what GitHub accepts for owners and repositories.
func ghName(s string) bool { // ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$
	return names.Token(s, names.Upper+names.Lower+names.Digits, names.Upper+names.Lower+names.Digits+"._-", 99)
}

// ParseSource parses `owner/repo@<constraint>`. A leading "github.com/" and a
// trailing ".git" on the repository are accepted; a missing "@constraint"
// means latest. Errors are ConfigInvalid.
func ParseSource(s string) (Source, error) {
	raw := s
	s = strings.TrimSpace(s)
	repoPart, cons := s, ""
	if i := strings.IndexByte(s, '@'); i >= 0 {
		repoPart, cons = s[:i], s[i+1:]
	}
	repoPart = strings.TrimPrefix(repoPart, "https://")
	repoPart = strings.TrimPrefix(repoPart, "github.com/")
	repoPart = strings.TrimSuffix(repoPart, ".git")
	parts := strings.Split(repoPart, "/")
	if len(parts) != 2 || !ghName(parts[0]) || !ghName(parts[1]) || strings.Contains(repoPart, "..") {
		return Source{}, errcode.New(errcode.ConfigInvalid, "source %q is not of the form owner/repo@<constraint>", raw).
			WithHint("write source: owner/epack-remote-name@^1.2.0")
	}
	c, err := ParseConstraint(cons)
	if err != nil {
		return Source{}, errcode.Wrap(errcode.ConfigInvalid, err, "source %q", raw).
			WithHint("use ^1.2, ~1.2.3, an exact 1.2.3 or latest")
	}
	return Source{Owner: parts[0], Repo: parts[1], Constraint: c}, nil
}

// Slug returns "owner/repo".
func (s Source) Slug() string { return s.Owner + "/" + s.Repo }

// LockSource returns the lockfile `source` value: "github.com/owner/repo".
func (s Source) LockSource() string { return "github.com/" + s.Slug() }

// RepositoryURI is the certificate SourceRepositoryURI a release must carry.
func (s Source) RepositoryURI() string { return "https://github.com/" + s.Slug() }

// String returns "owner/repo@constraint".
func (s Source) String() string { return s.Slug() + "@" + s.Constraint.String() }

// Version is a semantic version (a missing minor or patch counts as 0).
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // prerelease identifiers, nil for a release
	// parts is how many of major.minor.patch were written (1–3).
	parts int
}

var versionPattern = regexp.MustCompile(`^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?(?:\+[0-9A-Za-z.-]+)?$`)

// ParseVersion parses "1", "1.2", "1.2.3", each with an optional leading
// "v", prerelease ("-rc.1") and build metadata ("+x", ignored).
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a semantic version", s)
	}
	var v Version
	nums := []*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range m[1:4] {
		if p == "" {
			break
		}
		if len(p) > 1 && p[0] == '0' {
			return Version{}, fmt.Errorf("%q: numbers must not have leading zeros", s)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, fmt.Errorf("%q: %v", s, err)
		}
		*nums[i] = n
		v.parts = i + 1
	}
	if m[4] != "" {
		v.Pre = strings.Split(m[4], ".")
		for _, id := range v.Pre {
			if id == "" {
				return Version{}, fmt.Errorf("%q: empty prerelease identifier", s)
			}
		}
	}
	return v, nil
}

// Prerelease reports whether v has prerelease identifiers.
func (v Version) Prerelease() bool { return len(v.Pre) > 0 }

// String renders v as major.minor.patch[-pre] (no "v").
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	return s
}

// Compare returns -1, 0 or +1 by semantic-version precedence.
func (v Version) Compare(w Version) int {
	for _, p := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := comparePreID(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

func comparePreID(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aerr == nil:
		return -1 // numeric identifiers sort before alphanumeric ones
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// Constraint kinds.
const (
	ConstraintLatest = "latest"
	ConstraintCaret  = "^"
	ConstraintTilde  = "~"
	ConstraintExact  = "="
)

// Constraint selects release versions.
type Constraint struct {
	Kind string // ConstraintLatest, ConstraintCaret, ConstraintTilde or ConstraintExact
	Base Version
	raw  string
}

// ParseConstraint parses "", "latest", "*", "^1.2", "~1.2.3", "1.2.3",
// "v1.2.3" or "=1.2.3". A partial exact version ("1.2") matches any patch
// release of it, like "~1.2".
func ParseConstraint(s string) (Constraint, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "latest", "*":
		return Constraint{Kind: ConstraintLatest, raw: "latest"}, nil
	}
	kind, rest := ConstraintExact, s
	switch s[0] {
	case '^':
		kind, rest = ConstraintCaret, s[1:]
	case '~':
		kind, rest = ConstraintTilde, s[1:]
	case '=':
		rest = s[1:]
	}
	v, err := ParseVersion(rest)
	if err != nil {
		return Constraint{}, fmt.Errorf("invalid version constraint %q: %v", s, err)
	}
	if kind == ConstraintExact && v.parts < 3 {
		if v.Prerelease() {
			return Constraint{}, fmt.Errorf("invalid version constraint %q: a prerelease needs a full major.minor.patch version", s)
		}
		kind = ConstraintTilde
	}
	return Constraint{Kind: kind, Base: v, raw: s}, nil
}

// String returns the constraint as written ("latest" when empty).
func (c Constraint) String() string {
	if c.raw == "" {
		return "latest"
	}
	return c.raw
}

// Allows reports whether v satisfies c. Prereleases only satisfy an exact
// constraint that names them.
func (c Constraint) Allows(v Version) bool {
	if c.Kind == ConstraintExact {
		return v.Compare(c.Base) == 0
	}
	if v.Prerelease() {
		return false
	}
	if c.Kind == ConstraintLatest {
		return true
	}
	if v.Compare(c.Base) < 0 {
		return false
	}
	b := c.Base
	switch c.Kind {
	case ConstraintCaret:
		// The left-most non-zero part written may not change.
		switch {
		case b.Major > 0 || b.parts == 1:
			return v.Major == b.Major
		case b.Minor > 0 || b.parts == 2:
			return v.Major == 0 && v.Minor == b.Minor
		default:
			return v.Major == 0 && v.Minor == 0 && v.Patch == b.Patch
		}
	case ConstraintTilde:
		if b.parts == 1 {
			return v.Major == b.Major
		}
		return v.Major == b.Major && v.Minor == b.Minor
	}
	return false
}
