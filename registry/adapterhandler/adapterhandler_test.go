package adapterhandler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/adapterhandler"
)

// The adapter handler maps registry errors to protocol errors with the
// retryable flag set by code.
func TestProtocolError(t *testing.T) {
	for _, c := range []struct {
		err       error
		code      string
		retryable bool
	}{
		{protocol.Errorf(protocol.CodeNotFound, "x"), protocol.CodeNotFound, false},
		{protocol.Errorf(protocol.CodeNetworkError, "x"), protocol.CodeNetworkError, true},
		{registry.ErrConflict, protocol.CodeConflict, false},
		{context.DeadlineExceeded, protocol.CodeNetworkError, true},
		{errString("boom"), protocol.CodeServerError, true},
	} {
		var ae *protocol.Error
		if !errors.As(adapterhandler.ProtocolError(c.err), &ae) || ae.Code != c.code || ae.Retryable != c.retryable {
			t.Fatalf("%v → %+v, want %s retryable=%v", c.err, ae, c.code, c.retryable)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// Context wrapped around a store's protocol error reaches the user, and the
// wire error keeps the cause for errors.Is.
func TestProtocolErrorKeepsContext(t *testing.T) {
	inner := protocol.Wrapf(protocol.CodeNotFound, registry.ErrNotFound, "bucket %q", "b")
	err := adapterhandler.ProtocolError(fmt.Errorf("opening registry: %w", inner))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotFound || pe.Retryable {
		t.Fatalf("%+v", pe)
	}
	if want := `opening registry: bucket "b": ` + registry.ErrNotFound.Error(); pe.Message != want {
		t.Fatalf("message %q, want %q", pe.Message, want)
	}
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatal("cause lost")
	}
	if adapterhandler.ProtocolError(nil) != nil {
		t.Fatal("nil error became an answer")
	}
}
