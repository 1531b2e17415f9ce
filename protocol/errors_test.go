package protocol

import (
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
)

func TestErrorfRetryableByCode(t *testing.T) {
	for code, want := range map[string]bool{
		CodeRateLimited: true, CodeServerError: true, CodeNetworkError: true,
		CodeUnsupportedProtocol: false, CodeInvalidRequest: false, CodeAuthRequired: false,
		CodeForbidden: false, CodeNotFound: false, CodeConflict: false, "custom": false,
	} {
		if e := Errorf(code, "m %d", 1); e.Retryable != want || e.Code != code || e.Message != "m 1" {
			t.Errorf("%s: %+v", code, e)
		}
	}
}

func TestErrorTextAndCause(t *testing.T) {
	w := Wrapf(CodeNotFound, fs.ErrNotExist, "bucket %q", "b")
	if w.Error() != `bucket "b": file does not exist` || !errors.Is(w, fs.ErrNotExist) {
		t.Fatalf("%q", w.Error())
	}
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{&Error{Code: CodeConflict, Message: "taken"}, "taken"},
		{&Error{Code: CodeConflict, Err: fs.ErrExist}, fs.ErrExist.Error()},
		{&Error{Code: CodeConflict}, CodeConflict},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// The wire form has exactly the protocol's fields: the local cause is never
// sent, and an absent action is left out.
func TestErrorWireForm(t *testing.T) {
	resp := ErrorResponse{
		ResponseHeader: ResponseHeader{Type: TypeError, RequestID: "r"},
		Error:          *Wrapf(CodeServerError, errors.New("secret cause"), "failed"),
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ok":false,"type":"error","request_id":"r","error":{"code":"server_error","message":"failed: secret cause","retryable":true}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back ErrorResponse
	if err := DecodeStrict(b, &back); err != nil || back.Error.Code != CodeServerError || back.Error.Err != nil {
		t.Fatalf("%+v %v", back, err)
	}
}

func TestActionForms(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    *Action
		wantErr bool
	}{
		{`{"type":"open_url","url":"https://x"}`, &Action{Type: ActionOpenURL, URL: "https://x"}, false},
		{`"https://login.example"`, &Action{Type: ActionOpenURL, URL: "https://login.example"}, false},
		{`" epack-remote-x login "`, &Action{Type: ActionRunCommand, Command: "epack-remote-x login"}, false},
		{`"  "`, &Action{}, false},
		{`42`, nil, true},
	} {
		var a Action
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err != nil) != tc.wantErr || (!tc.wantErr && a != *tc.want) {
			t.Errorf("%s: %+v %v", tc.in, a, err)
		}
	}
}
