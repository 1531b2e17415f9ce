package remote

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
)

// An adapter's error code is shown as is only when it looks like one: 1 to
// 64 characters of a-z, 0-9, '_', '.' and '-'. Anything else, including the
// characters right next to those ranges, is shown quoted.
func TestCodeText(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		code  string
		plain bool
	}{
		{"auth_required", true},
		{"a", true}, {"z", true}, {"0", true}, {"9", true},
		{"v1.2-beta_9z", true},
		{long, true},
		{long + "a", false},
		{"", false},
		{"`", false}, // before 'a'
		{"{", false}, // after 'z'
		{"/", false}, // before '0'
		{":", false}, // after '9'
		{"!", false},
		{"A", false},
		{"forbidden\n", false},
		{"é", false},
	} {
		got := codeText(tc.code)
		want := tc.code
		if !tc.plain {
			want = quoteAdapterText(tc.code)
		}
		if got != want {
			t.Errorf("codeText(%q) = %s, want %s", tc.code, got, want)
		}
	}
}

// The hint of an adapter's action: a command is quoted on one line; a link
// is offered only when it is a plain https URL; no action, an empty one or
// a refused link give no hint.
func TestAdapterErrorHint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action *protocol.Action
		want   string
	}{
		{"none", nil, ""},
		{"empty", &protocol.Action{}, ""},
		{"command", &protocol.Action{Type: "run_command", Command: "acme login\n--now"}, `the adapter suggests running "acme login\n--now"`},
		{"command wins over url", &protocol.Action{Command: "acme login", URL: "https://help.example"}, `the adapter suggests running "acme login"`},
		{"https link", &protocol.Action{Type: "open_url", URL: " https://help.example/login "}, "the adapter suggests opening https://help.example/login"},
		{"http link", &protocol.Action{URL: "http://help.example"}, ""},
		{"javascript link", &protocol.Action{URL: "javascript:alert(1)"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &AdapterError{Adapter: "a", Command: "push.prepare", Body: protocol.Error{Code: "forbidden", Action: tc.action}}
			if got := e.Hint(); got != tc.want {
				t.Errorf("Hint() = %q, want %q", got, tc.want)
			}
		})
	}
}

// HTTPSLink takes an absolute https URL with a host, at most 4096
// characters once trimmed, without user info, spaces, control or format
// characters.
func TestHTTPSLink(t *testing.T) {
	base := "https://help.example/"
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://help.example/a?b=c#d", "https://help.example/a?b=c#d", true},
		{"  HTTPS://help.example  ", "HTTPS://help.example", true},
		{base + strings.Repeat("a", 4096-len(base)), base + strings.Repeat("a", 4096-len(base)), true},
		{base + strings.Repeat("a", 4097-len(base)), "", false},
		{"", "", false},
		{"   ", "", false},
		{"http://help.example", "", false},
		{"https://", "", false},
		{"https:help.example", "", false},
		{"https://bank.example@evil.example/", "", false},
		{"https://help.example/a b", "", false},
		{"https://help.example/\x7f", "", false},
		{"https://help.example/\u202e", "", false},
		{"https://help.example/a\u0085b", "", false},
		{"https://help.example/a\u00a0b", "", false},
		{"https://help.example/%zz", "", false},
	} {
		got, ok := HTTPSLink(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("HTTPSLink(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
