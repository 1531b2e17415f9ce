package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildRefusesStreamNamesRegistriesRefuse: `epack build` used to write a
// pack whose stream no registry accepts (push then failed far from the
// cause). It must refuse such a name, say which rule it breaks, exit 2 and
// write nothing.
func TestBuildRefusesStreamNamesRegistriesRefuse(t *testing.T) {
	ex := examplesDir(t)
	for _, stream := range []string{"../../x", "/abs", "a//b", ".", "a/", "   ", `a\b`, "a\tb"} {
		t.Run(stream, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "s.epack")
			_, se, code := epackRun(t, "", "build", out, filepath.Join(ex, "repos.csv"), "--stream", stream, "--no-color")
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, se)
			}
			if !strings.Contains(se, "stream") || !strings.Contains(se, "invalid_input") {
				t.Errorf("unclear error:\n%s", se)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a pack was written")
			}
		})
	}
	// Names every registry accepts still build.
	for _, stream := range []string{"acme/prod", "acme/platform/prod", "test-stream", "team a/prod"} {
		out := filepath.Join(t.TempDir(), "s.epack")
		if _, se, code := epackRun(t, "", "build", out, filepath.Join(ex, "repos.csv"), "--stream", stream); code != 0 {
			t.Errorf("stream %q refused: %d\n%s", stream, code, se)
		}
	}
}
