package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorsDir prefers the shared official vectors beside the repository
// (../shared/conformance/test-vectors) and falls back to the copy in
// testdata/vectors (v1.0), so a clone on its own still runs them.
func vectorsDir(t *testing.T) string {
	for _, dir := range []string{
		filepath.Join("..", "..", "..", "shared", "conformance", "test-vectors"),
		filepath.Join("testdata", "vectors"),
	} {
		if abs, err := filepath.Abs(dir); err == nil {
			if _, err := os.Stat(filepath.Join(abs, "VERSION")); err == nil {
				return abs
			}
		}
	}
	t.Fatal("conformance vectors not found (../shared/conformance/test-vectors or testdata/vectors)")
	return ""
}

func TestConformanceVectors(t *testing.T) {
	var failed []string
	sum, err := Run(vectorsDir(t), func(l Line) {
		if l.Skipped == "" && !*l.Pass {
			failed = append(failed, l.Vector+": "+l.Detail)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d passed, %d failed, %d skipped", sum.Passed, sum.Failed, sum.Skipped)
	if sum.Failed != 0 || len(failed) != 0 {
		t.Fatalf("%d vector cases failed:\n%s", sum.Failed, strings.Join(failed, "\n"))
	}
	if sum.Passed < 300 {
		t.Fatalf("only %d cases ran; vectors not found or not parsed", sum.Passed)
	}
}

// The runner must notice an implementation that disagrees with a vector.
func TestRunnerDetectsMismatch(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "jcs"), 0o755)
	os.WriteFile(filepath.Join(dir, "jcs", "x.json"), []byte(`{"tests":[
	  {"name":"right","input":{"b":1,"a":2},"expected_canonical":"{\"a\":2,\"b\":1}"},
	  {"name":"wrong","input":{"b":1,"a":2},"expected_canonical":"{\"b\":1,\"a\":2}"},
	  {"name":"accepts-invalid","input_json":"{\"a\":1}","valid":false}]}`), 0o644)
	var lines []Line
	sum, err := Run(dir, func(l Line) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Passed != 1 || sum.Failed != 2 || len(lines) != 3 {
		t.Fatalf("%+v", sum)
	}
}
