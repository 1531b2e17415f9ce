package registry

import (
	"strings"
	"testing"
	"time"
)

func TestEscapeName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"acme", "acme/evidence", "acme%2Fevidence", ".hidden", "a.b", "@default", "@all", "é", " ", "a b", "-_"} {
		e := EscapeName(s)
		if strings.ContainsAny(e, "/\\\x00") || e == "." || e == ".." || strings.HasPrefix(e, ".") || strings.HasPrefix(e, "@") {
			t.Fatalf("EscapeName(%q) = %q", s, e)
		}
		if prev, ok := seen[e]; ok {
			t.Fatalf("%q and %q both escape to %q", prev, s, e)
		}
		seen[e] = s
	}
}

func TestCheckName(t *testing.T) {
	good := map[string]string{KindStream: "acme/evidence/monthly", KindWorkspace: "acme-1.x", KindRunID: "run-001"}
	for k, v := range good {
		if err := CheckName(k, v); err != nil {
			t.Fatalf("%s %q: %v", k, v, err)
		}
	}
	bad := []struct{ kind, s string }{
		{KindStream, ""}, {KindStream, "a/../b"}, {KindStream, "/a"}, {KindStream, "a/"}, {KindStream, "a\x00"},
		{KindStream, "a\tb"}, {KindStream, "a\u0085b"}, {KindStream, strings.Repeat("x", 256)}, {KindStream, "\xff"},
		{KindWorkspace, "a/b"}, {KindWorkspace, ".."}, {KindRunID, "."}, {KindRunID, `a\b`},
		// The host's rules (internal/names) are the registry's rules.
		{KindStream, "a//b"}, {KindStream, "."}, {KindStream, "a/ /b"}, {KindWorkspace, "  "}, {KindEnvironment, "\u00a0"},
	}
	for _, b := range bad {
		if err := CheckName(b.kind, b.s); err == nil || CodeOf(err) != "invalid_request" {
			t.Fatalf("%s %q accepted (%v)", b.kind, b.s, err)
		}
	}
}

func TestReleaseID(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := NewReleaseID(t0), NewReleaseID(t0.Add(time.Millisecond))
	if !ValidReleaseID(a) || !ValidReleaseID(b) || !(a < b) || len(a) != 30 {
		t.Fatalf("%s %s", a, b)
	}
	if NewReleaseID(t0) == a {
		t.Fatal("ids collide")
	}
	for _, s := range []string{"rel_", "rel_../../../../../../../../x", "rel_" + strings.Repeat("I", 26), "rel_" + strings.Repeat("Z", 26)} {
		if ValidReleaseID(s) {
			t.Fatalf("%q accepted", s)
		}
	}
}

func TestVersionsOf(t *testing.T) {
	got := versionsOf([]string{"monthly", "v1.2.3", "version:2.0", "version=3", "vnext", "v1.2.3"})
	want := []string{"v1.2.3", "2.0", "3"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%v", got)
	}
}
