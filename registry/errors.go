package registry

import (
	"errors"

	"github.com/evidencerelay/epack/protocol"
)

// CodeOf returns the protocol code for err: the code of a *protocol.Error in
// its chain (stores return one, through protocol.Errorf, for failures the
// user must see clearly: a missing bucket, bad credentials…), not_found for
// ErrNotFound, conflict for ErrExists/ErrConflict, invalid_request for
// ErrMismatch, otherwise server_error.
func CodeOf(err error) string {
	var e *protocol.Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, ErrNotFound):
		return protocol.CodeNotFound
	case errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
		return protocol.CodeConflict
	case errors.Is(err, ErrMismatch):
		return protocol.CodeInvalidRequest
	}
	return protocol.CodeServerError
}

func invalid(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeInvalidRequest, format, args...)
}
