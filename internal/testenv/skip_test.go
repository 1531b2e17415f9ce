package testenv

import "testing"

func TestStrictSkips(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"", false}, {"true", true}, {"TRUE", true}, {"1", true}, {"false", false}, {"0", false}, {" true ", true}} {
		t.Setenv(EnvCI, tc.v)
		if got := StrictSkips(); got != tc.want {
			t.Errorf("CI=%q: StrictSkips() = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestNeedFeature(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{{"", "skip"}, {"true", "fatal"}} {
		t.Setenv(EnvCI, tc.ci)
		r := &recordTB{TB: t}
		NeedFeature(r, "no such tool")
		if r.outcome != tc.want {
			t.Errorf("CI=%q: %s, want %s", tc.ci, r.outcome, tc.want)
		}
	}
}

// recordTB notes whether a helper skipped or failed the test, instead of
// doing it, so both outcomes can be checked without a skipped test in the
// suite's list.
type recordTB struct {
	testing.TB
	outcome string
}

func (r *recordTB) Helper()               {}
func (r *recordTB) Skip(...any)           { r.note("skip") }
func (r *recordTB) Skipf(string, ...any)  { r.note("skip") }
func (r *recordTB) Fatal(...any)          { r.note("fatal") }
func (r *recordTB) Fatalf(string, ...any) { r.note("fatal") }

// note keeps the first outcome: a real Fatal or Skip would have stopped there.
func (r *recordTB) note(o string) {
	if r.outcome == "" {
		r.outcome = o
	}
}
