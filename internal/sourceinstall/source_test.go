package sourceinstall

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in, owner, repo, cons string
	}{
		{"acme/epack-remote-x@^1.2", "acme", "epack-remote-x", "^1.2"},
		{"github.com/acme/x@~1.2.3", "acme", "x", "~1.2.3"},
		{"acme/x.git@v1.2.3", "acme", "x", "v1.2.3"},
		{"acme/x", "acme", "x", "latest"},
		{"acme/x@latest", "acme", "x", "latest"},
	} {
		s, err := ParseSource(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if s.Owner != tc.owner || s.Repo != tc.repo || s.Constraint.String() != tc.cons {
			t.Errorf("%s: got %+v (%s)", tc.in, s, s.Constraint)
		}
	}
	for _, bad := range []string{"", "acme", "acme/x/y@1", "../x@1", "acme/..@1", "acme/x@^", "acme/x@1.2.x", "acme/x@>=1", "ac me/x@1", "acme/x@1.2-rc.1"} {
		if _, err := ParseSource(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestConstraints(t *testing.T) {
	for _, tc := range []struct {
		cons string
		yes  []string
		no   []string
	}{
		{"^1.2", []string{"1.2.0", "v1.2.9", "1.9.0"}, []string{"1.1.9", "2.0.0", "1.3.0-rc.1", "0.9.0"}},
		{"^1.2.3", []string{"1.2.3", "1.4.0"}, []string{"1.2.2", "2.0.0"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0", "0.2.2", "1.0.0"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4", "0.1.0"}},
		{"^0.2", []string{"0.2.0", "0.2.7"}, []string{"0.3.0"}},
		{"^1", []string{"1.0.0", "1.9.9"}, []string{"2.0.0", "0.9.0"}},
		{"~1.2.3", []string{"1.2.3", "1.2.10"}, []string{"1.3.0", "1.2.2"}},
		{"~1.2", []string{"1.2.0", "1.2.5"}, []string{"1.3.0"}},
		{"~1", []string{"1.0.0", "1.5.0"}, []string{"2.0.0"}},
		{"1.2.3", []string{"1.2.3", "v1.2.3"}, []string{"1.2.4", "1.2.3-rc.1"}},
		{"v1.2.3", []string{"1.2.3"}, []string{"1.2.2"}},
		{"=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"1.2", []string{"1.2.0", "1.2.7"}, []string{"1.3.0"}},
		{"1.3.0-rc.1", []string{"v1.3.0-rc.1"}, []string{"1.3.0", "1.3.0-rc.2"}},
		{"latest", []string{"0.0.1", "9.9.9"}, []string{"10.0.0-beta"}},
	} {
		c, err := ParseConstraint(tc.cons)
		if err != nil {
			t.Fatalf("%s: %v", tc.cons, err)
		}
		for _, v := range tc.yes {
			if pv, err := ParseVersion(v); err != nil || !c.Allows(pv) {
				t.Errorf("%s should allow %s (%v)", tc.cons, v, err)
			}
		}
		for _, v := range tc.no {
			if pv, err := ParseVersion(v); err != nil || c.Allows(pv) {
				t.Errorf("%s should not allow %s (%v)", tc.cons, v, err)
			}
		}
	}
}

func TestVersionOrder(t *testing.T) {
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, _ := ParseVersion(order[i])
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("%s should sort before %s", order[i-1], order[i])
		}
	}
	for _, bad := range []string{"01.2.3", "1.2.3.4", "x1", "1.2.3-", "1.2.3-a..b"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAssetName(t *testing.T) {
	if got := AssetName("x", "linux/amd64"); got != "epack-remote-x_linux_amd64" {
		t.Error(got)
	}
	if got := AssetName("x", "windows/arm64"); got != "epack-remote-x_windows_arm64.exe" {
		t.Error(got)
	}
	if got := BundleName("epack-remote-x_linux_amd64"); got != "epack-remote-x_linux_amd64.sigstore.json" {
		t.Error(got)
	}
}
