package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:3: no setsid\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"pass","Package":"q","Elapsed":1.5}`,
		`{"Action":"fail","Package":"p","Elapsed":0.2}`,
	}, "\n")
	var out strings.Builder
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatal("a failed test was not reported as failure")
	}
	got := out.String()
	for _, want := range []string{"SKIP p TestA: a_test.go:3: no setsid", "--- FAIL p TestB", "boom", "ok   q 1.5s", "FAIL p 0.2s", "1 skipped test(s)", "1 failed test(s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestSummarizeAllPassing(t *testing.T) {
	var out strings.Builder
	failed, err := summarize(strings.NewReader(`{"Action":"pass","Package":"q","Test":"TestX"}`+"\n"+`{"Action":"pass","Package":"q"}`), &out)
	if err != nil || failed {
		t.Fatalf("failed=%v err=%v\n%s", failed, err, out.String())
	}
	if !strings.Contains(out.String(), "0 skipped test(s)") {
		t.Fatal(out.String())
	}
}

func TestSummarizeBuildFailure(t *testing.T) {
	in := `{"ImportPath":"p [p.test]","Action":"build-output","Output":"x.go:1: syntax error\n"}` + "\n" + `{"ImportPath":"p [p.test]","Action":"build-fail"}`
	var out strings.Builder
	failed, _ := summarize(strings.NewReader(in), &out)
	if !failed || !strings.Contains(out.String(), "syntax error") {
		t.Fatalf("failed=%v\n%s", failed, out.String())
	}
}
