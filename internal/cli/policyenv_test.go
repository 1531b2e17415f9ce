package cli

import "testing"

// TestExecPolicyFromEnv: the CLI, not the libraries, maps
// EPACK_INSECURE_ALLOW_UNPINNED and EPACK_STRICT_PRODUCTION onto the policy.
func TestExecPolicyFromEnv(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{{"", false}, {"0", false}, {"yes", false}, {"false", false}, {"1", true}, {"true", true}, {" TRUE ", true}} {
		t.Setenv(envStrictProduction, c.v)
		t.Setenv(envAllowUnpinned, c.v)
		if got := strictProduction(); got != c.want {
			t.Errorf("%s=%q: strict %v", envStrictProduction, c.v, got)
		}
		if got := allowUnpinnedFromEnv(); got != c.want {
			t.Errorf("%s=%q: allow %v", envAllowUnpinned, c.v, got)
		}
		p := execPolicy(true, false, "push_cli")
		if p.StrictProduction != c.want || p.AllowUnpinned != c.want || !p.Frozen || p.Component != "push_cli" {
			t.Errorf("%q: %+v", c.v, p)
		}
		// The flag alone allows; the variable cannot take it back.
		if p := execPolicy(false, true, "pull_cli"); !p.AllowUnpinned || p.StrictProduction != c.want {
			t.Errorf("%q flag: %+v", c.v, p)
		}
	}
	if envStrictProduction != "EPACK_STRICT_PRODUCTION" || envAllowUnpinned != "EPACK_INSECURE_ALLOW_UNPINNED" {
		t.Fatal("variable names changed")
	}
}
