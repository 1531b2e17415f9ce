package conformance

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateCounts = flag.Bool("update-counts", false, "rewrite testdata/case-counts.txt from the vectors")

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
	perFile := map[string]int{}
	sum, err := Run(vectorsDir(t), func(l Line) {
		file, _, _ := strings.Cut(l.Vector, "#")
		perFile[file]++
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
	checkCaseCounts(t, perFile)
}

// checkCaseCounts compares the number of cases each vector file yields with
// testdata/case-counts.txt, so a vector whose test list is renamed, emptied or
// only partly decoded fails here instead of quietly running fewer cases.
func checkCaseCounts(t *testing.T, perFile map[string]int) {
	t.Helper()
	files := make([]string, 0, len(perFile))
	for f := range perFile {
		files = append(files, f)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s %d\n", f, perFile[f])
	}
	golden := filepath.Join("testdata", "case-counts.txt")
	if *updateCounts {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run: go test ./pack/conformance -run Vectors -update-counts)", err)
	}
	if string(want) != b.String() {
		t.Fatalf("cases per vector file differ from %s (a vector renamed or partly decoded?)\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
	}
}

// A vector whose values have the wrong shape, or that yields no cases at all,
// is a failed case, never a silent pass.
func TestRunnerRefusesMalformedVectors(t *testing.T) {
	for name, body := range map[string]string{
		"wrong type":    `{"tests":[{"name":"x","input_json":"{}","valid":"yes"}]}`,
		"renamed list":  `{"testz":[{"name":"x","input_json":"{}","valid":true}]}`,
		"list not list": `{"tests":{"name":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "jcs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "jcs", "x.json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			sum, err := Run(dir, func(Line) {})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed != 1 || sum.Passed != 0 {
				t.Fatalf("malformed vector not reported as a failure: %+v", sum)
			}
		})
	}
}

// The runner must notice an implementation that disagrees with a vector.
func TestRunnerDetectsMismatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "jcs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jcs", "x.json"), []byte(`{"tests":[
	  {"name":"right","input":{"b":1,"a":2},"expected_canonical":"{\"a\":2,\"b\":1}"},
	  {"name":"wrong","input":{"b":1,"a":2},"expected_canonical":"{\"b\":1,\"a\":2}"},
	  {"name":"accepts-invalid","input_json":"{\"a\":1}","valid":false}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []Line
	sum, err := Run(dir, func(l Line) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Passed != 1 || sum.Failed != 2 || len(lines) != 3 {
		t.Fatalf("%+v", sum)
	}
}
