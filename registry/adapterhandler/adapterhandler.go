// Package adapterhandler joins the adapter SDK to a registry: it turns a
// *registry.Registry into the adapter.Handler our adapter binaries
// (epack-remote-filesystem, epack-remote-s3) serve, and every registry
// failure into the protocol error the host is meant to read. Keeping this
// glue here lets package registry depend on protocol and the standard
// library alone.
package adapterhandler

import (
	"context"
	"errors"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// New returns the adapter handler serving r. Every error a handler returns
// is a *protocol.Error carrying the code CodeOf finds and the retryable flag
// that code implies.
func New(r *registry.Registry) adapter.Handler {
	return adapter.Handler{
		Capabilities: r.Capabilities(),
		PushPrepare: func(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
			resp, err := r.PushPrepare(ctx, req)
			return resp, ProtocolError(err)
		},
		PushFinalize: func(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
			resp, err := r.PushFinalize(ctx, req)
			return resp, ProtocolError(err)
		},
		PullPrepare: func(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
			resp, err := r.PullPrepare(ctx, req)
			return resp, ProtocolError(err)
		},
		PullFinalize: func(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
			resp, err := r.PullFinalize(ctx, req)
			return resp, ProtocolError(err)
		},
		RunsSync: func(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
			resp, err := r.RunsSync(ctx, req)
			return resp, ProtocolError(err)
		},
		Whoami: func(ctx context.Context) (*protocol.WhoamiIdentity, error) {
			id, err := r.Whoami(ctx)
			return id, ProtocolError(err)
		},
		ReleasesList: func(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
			resp, err := r.ReleasesList(ctx, req)
			return resp, ProtocolError(err)
		},
		LogStreams: wrap(r.LogStreams),
		LogRead:    wrap(r.LogRead),
		BlobsCheck: wrap(r.BlobsCheck),
		GC:         wrap(r.GC),
		Hold:       wrap(r.Hold),
		PushParts:  wrap(r.PushParts),
	}
}

// wrap makes a registry method a handler answering protocol errors.
func wrap[Req, Resp any](fn func(context.Context, *Req) (*Resp, error)) func(context.Context, *Req) (*Resp, error) {
	return func(ctx context.Context, req *Req) (*Resp, error) {
		resp, err := fn(ctx, req)
		return resp, ProtocolError(err)
	}
}

// fails is a handler that answers e.
func fails[Req, Resp any](e error) func(context.Context, *Req) (*Resp, error) {
	return func(context.Context, *Req) (*Resp, error) { return nil, e }
}

// Unavailable returns h with every protocol command answering err (as a
// protocol error). An adapter whose store cannot be opened thus still
// answers --capabilities, and tells each request why it cannot serve it.
func Unavailable(h adapter.Handler, err error) adapter.Handler {
	e := ProtocolError(err)
	h.PushPrepare = func(context.Context, *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
		return nil, e
	}
	h.PushFinalize = func(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
		return nil, e
	}
	h.PullPrepare = func(context.Context, *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
		return nil, e
	}
	h.PullFinalize = func(context.Context, *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
		return nil, e
	}
	h.RunsSync = func(context.Context, *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) { return nil, e }
	h.Whoami = func(context.Context) (*protocol.WhoamiIdentity, error) { return nil, e }
	h.ReleasesList = func(context.Context, *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
		return nil, e
	}
	h.LogStreams = fails[protocol.LogStreamsRequest, protocol.LogStreamsResponse](e)
	h.LogRead = fails[protocol.LogReadRequest, protocol.LogReadResponse](e)
	h.BlobsCheck = fails[protocol.BlobsCheckRequest, protocol.BlobsCheckResponse](e)
	h.GC = fails[protocol.GCRequest, protocol.GCResponse](e)
	h.Hold = fails[protocol.HoldRequest, protocol.HoldResponse](e)
	h.PushParts = fails[protocol.PushPartsRequest, protocol.PushPartsResponse](e)
	return h
}

// ProtocolError converts err into the *protocol.Error an adapter answers
// with (nil stays nil): the code is registry.CodeOf's, network_error when the
// request's context ended; the message is err's whole text, so context added
// around a store's error reaches the user; an action in the chain is kept.
func ProtocolError(err error) error {
	if err == nil {
		return nil
	}
	code := registry.CodeOf(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = protocol.CodeNetworkError
	}
	out := &protocol.Error{Code: code, Message: err.Error(), Retryable: protocol.RetryableCode(code), Err: err}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		out.Action = pe.Action
	}
	return out
}
