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

func TestNeedFeatureSkipsOutsideCI(t *testing.T) {
	t.Setenv(EnvCI, "")
	ran := false
	t.Run("inner", func(t *testing.T) {
		NeedFeature(t, "no such tool")
		ran = true
	})
	if ran {
		t.Fatal("NeedFeature returned instead of skipping")
	}
}
