package names

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestConformanceVectorStreams: every stream name in the official
// conformance vectors (plain or inside an escaped manifest string) is a
// name `epack build` accepts, so the build rule refuses nothing the spec
// uses. The pack reader does not apply the rule at all.
func TestConformanceVectorStreams(t *testing.T) {
	dir := filepath.Join("..", "..", "pack", "conformance", "testdata", "vectors")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("conformance vectors not present:", err)
	}
	plain := regexp.MustCompile(`"stream"\s*:\s*("(?:[^"\\]|\\.)*")`)
	escaped := regexp.MustCompile(`\\"stream\\"\s*:\s*\\"((?:[^"\\]|\\\\.)*)\\"`)
	seen := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range plain.FindAllSubmatch(raw, -1) {
			s, err := strconv.Unquote(string(m[1]))
			if err != nil {
				t.Errorf("%s: cannot read stream %s", p, m[1])
				continue
			}
			seen++
			if err := Check(Stream, s); err != nil {
				t.Errorf("%s: stream %q refused: %v", p, s, err)
			}
		}
		for _, m := range escaped.FindAllSubmatch(raw, -1) {
			seen++
			if err := Check(Stream, string(m[1])); err != nil {
				t.Errorf("%s: stream %q refused: %v", p, m[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no stream found in the vectors")
	}
	t.Logf("%d stream names checked", seen)
}
