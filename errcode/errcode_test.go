package errcode_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestCodesThroughWrapping(t *testing.T) {
	base := errcode.New(errcode.DigestMismatch, "artifact %s", "a.json").WithHint("rebuild the pack")
	wrapped := fmt.Errorf("push: %w", errcode.Wrap(errcode.Internal, base, "verifying"))
	joined := errors.Join(errors.New("other"), wrapped)
	for name, err := range map[string]error{"plain": base, "wrapped": wrapped, "joined": joined} {
		t.Run(name, func(t *testing.T) {
			if !errcode.Has(err, errcode.DigestMismatch) {
				t.Error("Has misses the inner code")
			}
			if errcode.Has(err, errcode.Timeout) {
				t.Error("Has finds a code that is not there")
			}
			if !errors.Is(err, errcode.Sentinel(errcode.DigestMismatch)) {
				t.Error("errors.Is with a Sentinel misses the code")
			}
			if errors.Is(err, errcode.Sentinel(errcode.SizeMismatch)) {
				t.Error("errors.Is matches another code")
			}
			var e *errcode.Error
			if !errors.As(err, &e) {
				t.Fatal("errors.As finds no *Error")
			}
			if got := errcode.HintOf(err); got != "rebuild the pack" {
				t.Errorf("HintOf = %q", got)
			}
		})
	}
	if got := errcode.Of(wrapped); got != errcode.Internal {
		t.Errorf("Of = %q, want the outermost code", got)
	}
	if errcode.Of(errors.New("x")) != "" || errcode.Has(nil, errcode.Internal) {
		t.Error("uncoded errors have no code")
	}
}

func TestErrorText(t *testing.T) {
	cause := fs.ErrNotExist
	for _, tc := range []struct {
		err  *errcode.Error
		want string
	}{
		{errcode.New(errcode.InvalidInput, "bad %d", 1), "bad 1"},
		{errcode.Wrap(errcode.IOError, cause, "reading x"), "reading x: file does not exist"},
		{&errcode.Error{Code: errcode.IOError, Err: cause}, "file does not exist"},
		{&errcode.Error{Code: errcode.Canceled}, "canceled"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if !errors.Is(errcode.Wrap(errcode.IOError, cause, "x"), fs.ErrNotExist) {
		t.Error("the cause is not reachable with errors.Is")
	}
}

// A library caller tells a tampered pack from a network failure by code.
func ExampleSentinel() {
	err := fmt.Errorf("push failed: %w", errcode.New(errcode.DigestMismatch, "artifact a.json changed"))
	switch {
	case errors.Is(err, errcode.Sentinel(errcode.DigestMismatch)):
		fmt.Println("the pack was tampered with")
	case errcode.Has(err, errcode.NetworkError):
		fmt.Println("retry later")
	}
	// Output: the pack was tampered with
}
