package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":1,"a":[1,2,{"c":null}]}`, `{"s":"\u00e9\ud83d\ude00\n\"\\"}`, `[1e3,1.5,-0,1E-7]`,
		`{"a":1,"a":2}`, `{"spec_version":"1.0","artifacts":[{"size":1e2}]}`, "\"\xff\"", `[9007199254740993]`, `{"\ud800":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, pol := range []Policy{General, SafeInteger, StrictInteger} {
			out, err := Canonicalize(in, pol)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error of type %T", err)
				}
				if json.Valid(in) && e.Kind == ErrSyntax {
					t.Fatalf("valid JSON refused as syntax error: %v", err)
				}
				continue
			}
			if !json.Valid(in) {
				t.Fatalf("invalid JSON accepted: %q", in)
			}
			again, err := Canonicalize(out, pol)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("not idempotent: %q → %q → %q (%v)", in, out, again, err)
			}
		}
	})
}
