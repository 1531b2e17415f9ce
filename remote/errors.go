package remote

import (
	"fmt"

	"github.com/evidencerelay/epack/internal/errcode"
)

// AdapterError is a well-formed error answer of an adapter
// ({"ok":false,"type":"error","error":{…}}). Session methods return it
// wrapped in an *errcode.Error whose Code is mapped from Body.Code (see
// CodeFor) and whose Hint is the action; errors.As finds it.
type AdapterError struct {
	Adapter string
	Command string
	Body    ErrorBody
}

func (e *AdapterError) Error() string {
	return fmt.Sprintf("adapter %q %s: %s: %s", e.Adapter, e.Command, e.Body.Code, e.Body.Message)
}

// Retryable reports the adapter's retry hint.
func (e *AdapterError) Retryable() bool { return e.Body.Retryable }

// AuthRequired reports whether the adapter asks the user to authenticate.
func (e *AdapterError) AuthRequired() bool { return e.Body.Code == ErrAuthRequired }

// Hint renders the adapter's action as a user hint ("" without one).
func (e *AdapterError) Hint() string {
	a := e.Body.Action
	if a == nil {
		return ""
	}
	switch {
	case a.Command != "":
		return "run: " + a.Command
	case a.URL != "":
		return "open: " + a.URL
	}
	return ""
}

// CodeFor maps a protocol error code to an epack error code.
func CodeFor(adapterCode string) errcode.Code {
	switch adapterCode {
	case ErrAuthRequired:
		return errcode.AuthRequired
	case ErrForbidden:
		return errcode.RemoteForbidden
	case ErrConflict:
		return errcode.RemoteConflict
	case ErrNetworkError:
		return errcode.NetworkError
	case "timeout":
		return errcode.Timeout
	case ErrUnsupportedProtocol:
		return errcode.ProtocolMismatch
	}
	return errcode.AdapterError
}

// wrapAdapterError turns an AdapterError into the coded error Session returns.
func wrapAdapterError(ae *AdapterError) error {
	return &errcode.Error{Code: CodeFor(ae.Body.Code), Err: ae, Hint: ae.Hint()}
}
