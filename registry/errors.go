package registry

import (
	"errors"
	"fmt"

	"github.com/evidencerelay/epack/remote"
)

// Error is a registry failure with a Remote Adapter Protocol error code
// (remote.Err*). Stores return it for failures the user must see clearly
// (missing bucket, bad credentials…); the adapter handler turns it into a
// protocol error response.
type Error struct {
	Code    string // remote.ErrInvalidRequest, remote.ErrNotFound, …
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether retrying the same request may succeed.
func (e *Error) Retryable() bool {
	switch e.Code {
	case remote.ErrRateLimited, remote.ErrServerError, remote.ErrNetworkError:
		return true
	}
	return false
}

// Errorf returns a registry error with a protocol code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrapf returns a registry error with a protocol code wrapping cause.
func Wrapf(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...) + ": " + cause.Error(), Err: cause}
}

// CodeOf returns the protocol code for err: the code of a *Error in its
// chain, not_found for ErrNotFound, conflict for ErrExists/ErrConflict,
// otherwise server_error.
func CodeOf(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, ErrNotFound):
		return remote.ErrNotFound
	case errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
		return remote.ErrConflict
	case errors.Is(err, ErrMismatch):
		return remote.ErrInvalidRequest
	}
	return remote.ErrServerError
}

func invalid(format string, args ...any) *Error {
	return Errorf(remote.ErrInvalidRequest, format, args...)
}
