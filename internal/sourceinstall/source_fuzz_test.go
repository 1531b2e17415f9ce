package sourceinstall

import (
	"reflect"
	"slices"
	"testing"
)

// FuzzParseVersion: a release tag from GitHub, any text; parsing never
// panics, and an accepted version's String() parses back to the same
// version (a missing minor or patch written out as 0).
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{
		"1", "1.2", "1.2.3", "v1.2.3", " 1.2.3 ", "1.2.3-rc.1", "1.2.3-rc.1+build.5", "1.2.3+x", "0.0.0",
		"01.2.3", "1.2.3-", "1.2.3-rc..1", "1.2.3-.rc", "18446744073709551615.0.0", "18446744073709551616", "v", "", "1.2.3.4", "1.2.3\n4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.parts < 1 || v.parts > 3 || (v.Pre != nil && len(v.Pre) == 0) || slices.Contains(v.Pre, "") {
			t.Fatalf("%q: accepted %#v", s, v)
		}
		w, err := ParseVersion(v.String())
		if err != nil || w.Major != v.Major || w.Minor != v.Minor || w.Patch != v.Patch || !slices.Equal(w.Pre, v.Pre) || w.Compare(v) != 0 {
			t.Fatalf("%q parsed to %#v, whose String() %q parses to %#v, %v", s, v, v.String(), w, err)
		}
		if w.String() != v.String() {
			t.Fatalf("%q: String() %q, then %q", s, v.String(), w.String())
		}
	})
}

// FuzzParseConstraint: a constraint from epack.yaml, any text; parsing
// never panics, an accepted constraint is one of the four kinds, its
// String() parses back to the same constraint, and a non-latest constraint
// allows its own base release.
func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{
		"", "latest", "*", " latest ", "^1.2", "^0.2.3", "^0.0.3", "~1.2.3", "~1", "1.2.3", "v1.2.3", "=1.2.3", "1.2",
		"=1.2.3-rc.1", "1.2-rc.1", "^", "~", "=", "^^1", ">=1.2.3", "^1.2.3-beta",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConstraint(s)
		if err != nil {
			return
		}
		switch c.Kind {
		case ConstraintLatest, ConstraintCaret, ConstraintTilde, ConstraintExact:
		default:
			t.Fatalf("%q: kind %q", s, c.Kind)
		}
		again, err := ParseConstraint(c.String())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%q parsed to %#v, whose String() %q parses to %#v, %v", s, c, c.String(), again, err)
		}
		if c.Kind != ConstraintLatest && !c.Base.Prerelease() && !c.Allows(c.Base) {
			t.Fatalf("%q does not allow its own base %s", s, c.Base)
		}
	})
}

// FuzzParseSource: a `source:` value from epack.yaml, any text; parsing
// never panics, an accepted source names a GitHub owner and repository, and
// its lockfile form (with ".git" and its constraint) parses back to it.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{
		"owner/repo@^1.2.0", "owner/repo", "github.com/owner/repo@1.2.3", "https://github.com/owner/repo.git@~1.2",
		" owner/repo@latest ", "owner/repo.git.git", "owner/../repo", "owner/repo/x", "/repo", "owner/", "-owner/repo",
		"owner/repo@", "owner/repo@^1@2", "owner/re..po", "https://gitlab.com/o/r", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			return
		}
		if !ghName(src.Owner) || !ghName(src.Repo) {
			t.Fatalf("%q: accepted owner %q, repository %q", s, src.Owner, src.Repo)
		}
		lock := src.LockSource() + ".git@" + src.Constraint.String()
		if again, err := ParseSource(lock); err != nil || !reflect.DeepEqual(again, src) {
			t.Fatalf("%q parsed to %#v; %q parses to %#v, %v", s, src, lock, again, err)
		}
	})
}
