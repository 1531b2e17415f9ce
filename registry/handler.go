package registry

import (
	"context"
	"errors"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/remote"
)

// Handler returns the adapter SDK handler for this registry. Every error
// becomes a protocol error with the right code and retryable flag.
func (r *Registry) Handler() adapter.Handler {
	return adapter.Handler{
		Capabilities: r.Capabilities(),
		PushPrepare: func(ctx context.Context, req *remote.PushPrepareRequest) (*remote.PushPrepareResponse, error) {
			resp, err := r.PushPrepare(ctx, req)
			return resp, protoErr(err)
		},
		PushFinalize: func(ctx context.Context, req *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error) {
			resp, err := r.PushFinalize(ctx, req)
			return resp, protoErr(err)
		},
		PullPrepare: func(ctx context.Context, req *remote.PullPrepareRequest) (*remote.PullPrepareResponse, error) {
			resp, err := r.PullPrepare(ctx, req)
			return resp, protoErr(err)
		},
		PullFinalize: func(ctx context.Context, req *remote.PullFinalizeRequest) (*remote.PullFinalizeResponse, error) {
			resp, err := r.PullFinalize(ctx, req)
			return resp, protoErr(err)
		},
		RunsSync: func(ctx context.Context, req *remote.RunsSyncRequest) (*remote.RunsSyncResponse, error) {
			resp, err := r.RunsSync(ctx, req)
			return resp, protoErr(err)
		},
		Whoami: func(ctx context.Context) (*remote.WhoamiIdentity, error) {
			id, err := r.Whoami(ctx)
			return id, protoErr(err)
		},
	}
}

// Unavailable returns h with every protocol command answering err as a
// protocol error: an adapter whose store cannot be opened still answers
// --capabilities, and tells each request why it cannot serve it.
func Unavailable(h adapter.Handler, err error) adapter.Handler {
	e := protoErr(err)
	h.PushPrepare = func(context.Context, *remote.PushPrepareRequest) (*remote.PushPrepareResponse, error) { return nil, e }
	h.PushFinalize = func(context.Context, *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error) {
		return nil, e
	}
	h.PullPrepare = func(context.Context, *remote.PullPrepareRequest) (*remote.PullPrepareResponse, error) { return nil, e }
	h.PullFinalize = func(context.Context, *remote.PullFinalizeRequest) (*remote.PullFinalizeResponse, error) {
		return nil, e
	}
	h.RunsSync = func(context.Context, *remote.RunsSyncRequest) (*remote.RunsSyncResponse, error) { return nil, e }
	h.Whoami = func(context.Context) (*remote.WhoamiIdentity, error) { return nil, e }
	return h
}

// ProtocolError converts any error to an *adapter.Error (nil stays nil).
func ProtocolError(err error) error { return protoErr(err) }

func protoErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae
	}
	code := CodeOf(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = remote.ErrNetworkError
	}
	e := &Error{Code: code}
	return &adapter.Error{Code: code, Message: err.Error(), Retryable: e.Retryable()}
}
