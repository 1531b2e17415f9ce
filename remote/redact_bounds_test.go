package remote

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// A secret that is the start of a longer one does not leave the rest of
// the longer one in the text: the longest spelling is replaced first.
func TestRedactorLongestFirst(t *testing.T) {
	for _, secrets := range [][]string{{"abcd", "abcdefgh"}, {"abcdefgh", "abcd"}} {
		r := newRedactor(secrets, false)
		for in, want := range map[string]string{
			"x abcdefgh y":  "x " + redactedMark + " y",
			"x abcdefg y":   "x " + redactedMark + "efg y",
			"abcd abcdefgh": redactedMark + " " + redactedMark,
		} {
			if got := r.String(in); got != want {
				t.Errorf("secrets %q: %q → %q, want %q", secrets, in, got, want)
			}
		}
	}
}

// A secret with a control character is caught in the JSON spelling that
// leaves '<', '>' and '&' alone (Go's Encoder with SetEscapeHTML(false),
// Python's json.dumps(ensure_ascii=False)), which no other spelling of it
// matches: %q writes \x01, the other JSON spellings escape '<' or 'é'.
func TestRedactorJSONWithoutHTMLEscapes(t *testing.T) {
	const secret = "ab\x01é<c"
	r := newRedactor([]string{secret}, false)
	for _, f := range []string{
		`ab\u0001é<c`,            // JSON, no HTML escapes
		`ab\u0001é\u003cc`,       // Go's json.Marshal
		`ab\u0001\u00e9<c`,       // ASCII-only JSON
		`ab\u0001\u00e9\u003cc`,  // ASCII-only JSON with HTML escapes
		`ab\x01é<c`,              // %q
		"ab%01%C3%A9%3Cc",        // URL
		"ab%01%c3%a9%3cc",        // URL, lower-case hex
		"ab\x01é<c",              // raw
		`"ab\u0001é<c" and more`, // inside a longer text
	} {
		if got := r.String("[" + f + "]"); strings.Contains(got, "ab") {
			t.Errorf("%q → %q", f, got)
		}
	}
}

// stderrRelay forwards whole lines as soon as their newline arrives (an
// empty line too), holds a partial line until its end comes, up to 64 KiB,
// and forwards the rest at Flush.
func TestStderrRelayForwarding(t *testing.T) {
	const p = "[adapter a] "
	big := strings.Repeat("x", 64<<10)
	for _, tc := range []struct {
		name   string
		writes []string
		after  []string // out after each write
		flush  string   // out after Flush
	}{
		{"empty line", []string{"\n"}, []string{p + "\n"}, p + "\n"},
		{"empty line, then a partial one", []string{"\nab"}, []string{p + "\n"}, p + "\n" + p + "ab\n"},
		{"partial line held", []string{"ab", "c\nd"}, []string{"", p + "abc\n"}, p + "abc\n" + p + "d\n"},
		{"lines split by the newline", []string{"a\nb\n", "\n"}, []string{p + "a\n" + p + "b\n", p + "a\n" + p + "b\n" + p + "\n"}, p + "a\n" + p + "b\n" + p + "\n"},
		{"64 KiB without a newline held", []string{big}, []string{""}, p + big + "\n"},
		{"one byte more is forwarded", []string{big, "y"}, []string{"", p + big + "y\n"}, p + big + "y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			r := newStderrRelay(&out, "a", nil, false, 1<<20, nil)
			for i, w := range tc.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
				if got := out.String(); got != tc.after[i] {
					t.Fatalf("after write %d: out %q, want %q", i, trim(got), trim(tc.after[i]))
				}
			}
			r.Flush()
			if got := out.String(); got != tc.flush {
				t.Fatalf("after Flush: out %q, want %q", trim(got), trim(tc.flush))
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}

// markLines marks every line, the empty ones included.
func TestMarkLinesEmptyLines(t *testing.T) {
	r := newStderrRelay(nil, "a", nil, false, 1<<20, nil)
	if got, want := string(r.markLines([]byte("\nab\n\ncd"))), "[adapter a] \n[adapter a] ab\n[adapter a] \n[adapter a] cd\n"; got != want {
		t.Fatalf("markLines = %q, want %q", got, want)
	}
}

// Adapter output may reach its limit exactly; one byte more fails that
// write and every later one and calls onExceed once.
func TestOutputLimits(t *testing.T) {
	const limit = 10
	for _, tc := range []struct {
		name string
		w    func(onExceed func()) interface {
			Write([]byte) (int, error)
		}
	}{
		{"stdout", func(f func()) interface{ Write([]byte) (int, error) } {
			return &limitBuffer{limit: limit, onExceed: f}
		}},
		{"stderr", func(f func()) interface{ Write([]byte) (int, error) } {
			return newStderrRelay(nil, "a", nil, false, limit, f)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			w := tc.w(func() { calls++ })
			for _, chunk := range []string{"12345", "67890"} {
				if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
					t.Fatalf("write up to the limit: %d, %v", n, err)
				}
			}
			if calls != 0 {
				t.Fatalf("onExceed called at the limit")
			}
			for i := 0; i < 2; i++ {
				if n, err := w.Write([]byte("x")); n != 0 || err != errOutputLimit {
					t.Fatalf("write past the limit: %d, %v", n, err)
				}
			}
			if calls != 1 {
				t.Fatalf("onExceed called %d times, want 1", calls)
			}
			if lb, ok := w.(*limitBuffer); ok && string(lb.Bytes()) != "1234567890" {
				t.Fatalf("stdout kept %q", lb.Bytes())
			}
		})
	}
	// One write larger than the whole limit is refused at once.
	lb := &limitBuffer{limit: limit}
	if n, err := lb.Write([]byte("12345678901")); n != 0 || err != errOutputLimit {
		t.Fatalf("oversized first write: %d, %v", n, err)
	}
}

// Error redacts in place and returns the same error when that is enough; an
// error whose text was fixed when it was made (fmt.Errorf) comes back
// wrapped, its text redacted, errors.Is still reaching it. A coded error
// that wraps an adapter error without a hint (unsupported_feature) gets no
// hint from the adapter's action; one with the adapter's hint gets it
// rebuilt from the redacted action.
func TestRedactorError(t *testing.T) {
	const secret = "s3cr3t-value"
	r := newRedactor([]string{secret}, false)

	coded := errcode.New(errcode.AdapterError, "adapter said %s", secret)
	if got := r.Error(coded); got != error(coded) || strings.Contains(got.Error(), secret) {
		t.Errorf("coded error: %T %v, want the same error redacted in place", got, got)
	}
	clean := errcode.New(errcode.AdapterError, "nothing secret")
	if got := r.Error(clean); got != error(clean) {
		t.Errorf("an error without a secret came back as %T", got)
	}

	fixed := fmt.Errorf("transfer to https://x.example/?t=%s failed", secret)
	got := r.Error(fixed)
	if strings.Contains(got.Error(), secret) || !strings.Contains(got.Error(), redactedMark) || !errors.Is(got, fixed) {
		t.Errorf("fmt.Errorf error: %q (wraps the original: %v)", got.Error(), errors.Is(got, fixed))
	}

	action := &protocol.Action{Type: "run_command", Command: "acme login --token " + secret}
	unsupported := errcode.Wrap(errcode.UnsupportedFeature, &AdapterError{Adapter: "a", Command: "runs.sync",
		Body: protocol.Error{Code: protocol.CodeUnsupportedProtocol, Message: "no " + secret, Action: action}}, "adapter does not support runs.sync")
	got = r.Error(unsupported)
	if h := errcode.HintOf(got); h != "" {
		t.Errorf("unsupported_feature error got the hint %q", h)
	}
	if strings.Contains(got.Error(), secret) || strings.Contains(action.Command, secret) {
		t.Errorf("unsupported_feature error not redacted: %v (action %q)", got, action.Command)
	}

	ae := &AdapterError{Adapter: "a", Command: "push.prepare", Body: protocol.Error{Code: protocol.CodeAuthRequired,
		Action: &protocol.Action{Type: "run_command", Command: "acme login --token " + secret}}}
	got = r.Error(wrapAdapterError(ae))
	if h, want := errcode.HintOf(got), `the adapter suggests running "acme login --token `+redactedMark+`"`; h != want {
		t.Errorf("hint %q, want %q", h, want)
	}
}

// A redactor with nothing to redact (no secret, only secrets too short, or
// turned off) leaves errors as they are, a hint the caller set included.
func TestInactiveRedactorChangesNothing(t *testing.T) {
	for _, r := range []*redactor{newRedactor(nil, false), newRedactor([]string{"abc"}, false), newRedactor([]string{"s3cr3t-value"}, true)} {
		ae := &AdapterError{Adapter: "a", Command: "push.prepare", Body: protocol.Error{Code: protocol.CodeForbidden, Message: "abc s3cr3t-value"}}
		e := &errcode.Error{Code: errcode.RemoteForbidden, Err: ae, Hint: "check the bucket policy"}
		if got := r.Error(e); got != error(e) || e.Hint != "check the bucket policy" || ae.Body.Message != "abc s3cr3t-value" {
			t.Errorf("redactor %+v changed the error: %v, hint %q, message %q", r, got, e.Hint, ae.Body.Message)
		}
		if got := r.String("abc s3cr3t-value"); got != "abc s3cr3t-value" {
			t.Errorf("redactor %+v changed text: %q", r, got)
		}
	}
}
