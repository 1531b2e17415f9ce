package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Error codes an adapter answers with (the "code" of an error answer). They
// are strings on the wire; Code* names them so callers never spell them out.
const (
	CodeUnsupportedProtocol = "unsupported_protocol"
	CodeInvalidRequest      = "invalid_request"
	CodeAuthRequired        = "auth_required"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeRateLimited         = "rate_limited"
	CodeServerError         = "server_error"
	CodeNetworkError        = "network_error"
)

// RetryableCode reports whether a failure with code is worth retrying
// unchanged: rate limiting, server and network failures are; the others
// need a different request or a user's action.
func RetryableCode(code string) bool {
	switch code {
	case CodeRateLimited, CodeServerError, CodeNetworkError:
		return true
	}
	return false
}

// Error is the protocol's one error: the "error" object of an error answer,
// and the error value adapters, the adapter SDK and our registries return to
// choose what the host is told. Code, Message, Retryable and Action are the
// wire fields; Err is a local cause for errors.Is/As and is never sent.
type Error struct {
	Code      string  `json:"code"`
	Message   string  `json:"message"`
	Retryable bool    `json:"retryable"`
	Action    *Action `json:"action,omitempty"`
	// Err is the failure that led to this answer, if any (not on the wire).
	Err error `json:"-"`
}

// Error returns the message (the cause's text, then the code, when the
// message is empty), which is exactly what an adapter puts on the wire.
func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Code
}

// Unwrap returns the local cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message; Retryable
// follows RetryableCode.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Retryable: RetryableCode(code)}
}

// Wrapf is Errorf for a failure caused by cause: the message ends with the
// cause's text and errors.Is/As see the cause.
func Wrapf(code string, cause error, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Message += ": " + cause.Error()
	e.Err = cause
	return e
}

// ErrorResponse is an error answer: {"ok":false,"type":"error","error":{…}}.
type ErrorResponse struct {
	ResponseHeader
	Error Error `json:"error"`
}

// Action tells the user what to do about an error. On the wire it is an
// object ({"type":"run_command","command":…} or {"type":"open_url","url":…});
// adapters built with the existing tool's Go SDK write a bare string, which
// UnmarshalJSON also reads.
type Action struct {
	Type    string `json:"type"` // ActionRunCommand or ActionOpenURL
	Command string `json:"command,omitempty"`
	URL     string `json:"url,omitempty"`
}

// Values of Action.Type.
const (
	ActionRunCommand = "run_command"
	ActionOpenURL    = "open_url"
)

// UnmarshalJSON reads both forms of an action. For the string form, an
// http(s) URL becomes an open_url action, any other non-blank text a
// run_command action (that SDK uses the field for the fixing command), and
// blank text no action at all. A number, array or other JSON type is an
// error, so the whole error answer is refused.
func (a *Action) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			*a = Action{}
		case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
			*a = Action{Type: ActionOpenURL, URL: s}
		default:
			*a = Action{Type: ActionRunCommand, Command: s}
		}
		return nil
	}
	type object Action
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*a = Action(o)
	return nil
}
