package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	js := `{"files":[{"file_name":"a.go","mutations":[
	 {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":1,"column":2},
	 {"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":3,"column":4},
	 {"type":"ARITHMETIC_BASE","status":"LIVED","line":5,"column":6},
	 {"type":"ARITHMETIC_BASE","status":"TIMED OUT","line":7,"column":8},
	 {"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":9,"column":1}]}]}`
	eq, err := readEquivalents(strings.NewReader("# comment\ntransfer/a.go:5:6 ARITHMETIC_BASE the value is only logged\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := summarize([]byte(js), "transfer", eq)
	if err != nil {
		t.Fatal(err)
	}
	if r.killed != 2 || r.lived != 1 || r.equivalent != 1 || r.timedOut != 1 {
		t.Fatalf("%+v", r)
	}
	if len(r.livedAt) != 1 || r.livedAt[0] != "transfer/a.go:3:4 CONDITIONALS_BOUNDARY" {
		t.Fatalf("%v", r.livedAt)
	}
	if e := r.efficacy(); e < 66.6 || e > 66.7 {
		t.Fatalf("efficacy %.2f", e)
	}
}

func TestEquivalentNeedsReason(t *testing.T) {
	if _, err := readEquivalents(strings.NewReader("transfer/a.go:5:6 ARITHMETIC_BASE\n")); err == nil {
		t.Fatal("an exclusion without a reason was accepted")
	}
}

func TestSummarizeRefusesGarbage(t *testing.T) {
	if _, err := summarize([]byte("not json"), "p", nil); err == nil {
		t.Fatal("garbage accepted")
	}
}
