package testkit

import (
	"errors"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// WantCode fails the test unless err is an *errcode.Error chain whose
// outermost code is code (what errcode.Of reports, which is what the CLI maps
// to an exit status and JSON) and whose text contains every one of
// substrings. It is strict on purpose: a wrapper that re-codes an error
// changes what users see, so the outer code is the one that counts.
func WantCode(t testing.TB, err error, code errcode.Code, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with code %s, got nil", code)
	}
	var e *errcode.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *errcode.Error with code %s, got %T: %v", code, err, err)
	}
	if got := errcode.Of(err); got != code {
		t.Fatalf("want code %s, got %s: %v", code, got, err)
	}
	wantText(t, err, err.Error(), substrings)
}

// WantCodeHint is WantCode where each substring may appear in the error's
// text or in its fix hint (errcode.HintOf), for errors whose advice is the
// point of the test.
func WantCodeHint(t testing.TB, err error, code errcode.Code, substrings ...string) {
	t.Helper()
	WantCode(t, err, code)
	wantText(t, err, err.Error()+"\n"+errcode.HintOf(err), substrings)
}

func wantText(t testing.TB, err error, text string, substrings []string) {
	t.Helper()
	for _, s := range substrings {
		if !strings.Contains(text, s) {
			t.Errorf("error %q (hint %q) does not mention %q", err, errcode.HintOf(err), s)
		}
	}
}
