package push

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// globMatches with "**" walks the tree below the literal prefix and matches
// the rest segment by segment: "**" takes zero or more whole segments (also
// at the end, and when several follow each other), every other segment
// matches exactly one. A file that only shares the depth or the folder with
// a match is not one.
func TestGlobMatchesDoubleStar(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, rel := range []string{
		"tools/aws/r1/result.json",
		"tools/aws/r1/other.json",
		"tools/result.json",
		"tools/deep/a/b/c/result.json",
		"tools/aws/r1/result.json.bak",
		"b",
		"x/b",
		"x/c",
	} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		// "**" followed by a name: that name ends the path, at any depth (zero included).
		{"tools/**/result.json", []string{"tools/aws/r1/result.json", "tools/deep/a/b/c/result.json", "tools/result.json"}},
		{"tools/**/other.json", []string{"tools/aws/r1/other.json"}},
		{"tools/**/*.bak", []string{"tools/aws/r1/result.json.bak"}},
		{"tools/**/nothing.json", nil},
		// A name after "**" must match a segment, not just sit at a depth.
		{"tools/*/*/result.json", []string{"tools/aws/r1/result.json"}},
		// A trailing "**" takes every file below.
		{"x/**", []string{"x/b", "x/c"}},
		// "**" may take nothing, also after the last named segment.
		{"**/b/**/**", []string{"b", "tools/deep/a/b/c/result.json", "x/b"}},
		{"x/**/**/c", []string{"x/c"}},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			var got []string
			for _, m := range globMatches(filepath.Join(root, filepath.FromSlash(tc.pattern))) {
				rel, err := filepath.Rel(root, m)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, filepath.ToSlash(rel))
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("globMatches(%q) = %v, want %v", tc.pattern, got, tc.want)
			}
		})
	}
}

// matchSegments on its own: "**" is the only segment that spans, and it
// spans zero segments too.
func TestMatchSegments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pat, path string
		want      bool
	}{
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"**/result.json", "result.json", true},
		{"**/result.json", "a/b/result.json", true},
		{"**/result.json", "a/b/other.json", false},
		{"**/result.json", "a/result.json/x", false},
		{"a/**", "a/b", true},
		{"a/**", "b/c", false},
		{"*/result.json", "a/b/result.json", false},
		{"**/b/**/**", "b", true},
		{"**/b/**/**", "a/b/c", true},
		{"**/b/**/**", "a/c", false},
		{"a/b", "a", false},
		{"a", "a/b", false},
		{"[", "[", false}, // a bad pattern matches nothing
	} {
		got := matchSegments(strings.Split(tc.pat, "/"), strings.Split(tc.path, "/"))
		if got != tc.want {
			t.Errorf("matchSegments(%q, %q) = %v, want %v", tc.pat, tc.path, got, tc.want)
		}
	}
}
