package names

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evidencerelay/epack/errcode"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		kind Kind
		s    string
		ok   bool
		want string // part of the message when refused
	}{
		{Stream, "acme/prod", true, ""},
		{Stream, "acme/platform/prod", true, ""},
		{Stream, "test-stream", true, ""},
		{Stream, "é/ü", true, ""},
		{Stream, "a b/c", true, ""},
		{Stream, strings.Repeat("x", 255), true, ""},
		{Stream, "", false, "empty"},
		{Stream, "../../x", false, `".." segment`},
		{Stream, "/abs", false, "empty segment"},
		{Stream, "a//b", false, "empty segment"},
		{Stream, "a/", false, "empty segment"},
		{Stream, ".", false, `"." segment`},
		{Stream, "a/./b", false, `"." segment`},
		{Stream, "   ", false, "blank"},
		{Stream, "a/ /b", false, "blank segment"},
		{Stream, "a\x00b", false, "NUL"},
		{Stream, "a\tb", false, "control"},
		{Stream, "a\u0085b", false, "control"},
		{Stream, `a\b`, false, "backslash"},
		{Stream, "\xff", false, "UTF-8"},
		{Stream, strings.Repeat("x", 256), false, "too long"},
		{Stream, strings.Repeat("/x", 100), false, "empty segment"},
		{Stream, strings.Repeat("x/", 100) + "x", false, "once escaped"},
		{Workspace, "acme", true, ""},
		{Workspace, "acme-1.x", true, ""},
		{Workspace, "", false, "empty"},
		{Workspace, " ", false, "blank"},
		{Workspace, "\u00a0\u2003", false, "blank"},
		{Workspace, "a/b", false, "'/'"},
		{Workspace, ".", false, "not allowed"},
		{Workspace, "..", false, "not allowed"},
		{Environment, "prod", true, ""},
		{Environment, " \t", false, "control"},
		{Environment, "../prod", false, "'/'"},
		{RunID, "run-001", true, ""},
		{RunID, `a\b`, false, "backslash"},
		{Version, "v1.2.3", true, ""},
	}
	for _, c := range cases {
		t.Run(string(c.kind)+"/"+c.s, func(t *testing.T) {
			err := Check(c.kind, c.s)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errcode.Has(err, errcode.InvalidInput) {
				t.Errorf("code %q, want invalid_input", errcode.Of(err))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("message %q lacks %q", err, c.want)
			}
			if !strings.Contains(err.Error(), string(c.kind)) {
				t.Errorf("message %q does not say it is a %s", err, c.kind)
			}
			if h := errcode.HintOf(err); !strings.Contains(h, "1-255 bytes") {
				t.Errorf("hint %q does not state the rule", h)
			}
		})
	}
}

func TestCheckOptional(t *testing.T) {
	if err := CheckOptional(Workspace, ""); err != nil {
		t.Fatalf("empty (default) refused: %v", err)
	}
	for _, s := range []string{" ", "\u3000", "a/b"} {
		if err := CheckOptional(Workspace, s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestEscape(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"acme", "acme/evidence", "acme%2Fevidence", ".hidden", "a.b", "@default", "@all", "é", " ", "a b", "-_"} {
		e := Escape(s)
		if !safeSegment(e) {
			t.Fatalf("Escape(%q) = %q", s, e)
		}
		if prev, ok := seen[e]; ok {
			t.Fatalf("%q and %q both escape to %q", prev, s, e)
		}
		seen[e] = s
		if escapedLen(s) != len(e) {
			t.Fatalf("escapedLen(%q) = %d, Escape gives %d bytes", s, escapedLen(s), len(e))
		}
	}
	if got := Escape("acme/prod"); got != "acme%2Fprod" {
		t.Fatalf("Escape(acme/prod) = %q", got)
	}
}

func safeSegment(e string) bool {
	return e != "" && !strings.ContainsAny(e, "/\\\x00") && e != "." && e != ".." &&
		!strings.HasPrefix(e, ".") && !strings.HasPrefix(e, "@")
}

// FuzzCheck holds the promises registries build on: whatever Check accepts
// escapes to one safe segment within the limit, and a stream splits into
// segments that are never empty, "." or "..".
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"acme/prod", "../../x", "/abs", "a//b", ".", " ", "a\x00", "é", "a%2Fb", strings.Repeat("x/", 90)} {
		f.Add(s, "acme")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, kind := range []Kind{Stream, Workspace, Environment} {
			err := Check(kind, a)
			if err != nil {
				if !errcode.Has(err, errcode.InvalidInput) {
					t.Fatalf("%s %q: code %q", kind, a, errcode.Of(err))
				}
				continue
			}
			e := Escape(a)
			if !safeSegment(e) || len(e) > MaxBytes || len(a) > MaxBytes || !utf8.ValidString(a) {
				t.Fatalf("%s %q accepted but escapes to %q", kind, a, e)
			}
			if strings.TrimSpace(a) == "" {
				t.Fatalf("%s %q accepted although blank", kind, a)
			}
			for _, seg := range strings.Split(a, "/") {
				if kind != Stream && seg != a {
					t.Fatalf("%s %q accepted with '/'", kind, a)
				}
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("%s %q accepted with segment %q", kind, a, seg)
				}
			}
		}
		if a != b && Escape(a) == Escape(b) {
			t.Fatalf("%q and %q both escape to %q", a, b, Escape(a))
		}
	})
}
