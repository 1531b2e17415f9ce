package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/evidencerelay/epack/remote"
)

// Handler implements an adapter. A nil function means the command is not
// supported; the matching capability feature is then forced to false.
type Handler struct {
	// Capabilities is answered to --capabilities. Kind and
	// DeployProtocolVersion are always set to "remote_adapter" and 1.
	Capabilities remote.Capabilities
	PushPrepare  func(ctx context.Context, req *remote.PushPrepareRequest) (*remote.PushPrepareResponse, error)
	PushFinalize func(ctx context.Context, req *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error)
	PullPrepare  func(ctx context.Context, req *remote.PullPrepareRequest) (*remote.PullPrepareResponse, error)
	PullFinalize func(ctx context.Context, req *remote.PullFinalizeRequest) (*remote.PullFinalizeResponse, error)
	RunsSync     func(ctx context.Context, req *remote.RunsSyncRequest) (*remote.RunsSyncResponse, error)
	Whoami       func(ctx context.Context) (*remote.WhoamiIdentity, error)
}

// MaxRequestBytes bounds a request read from stdin.
const MaxRequestBytes = 10 << 20

// Error is a protocol error answer. Handlers return it (usually through
// Errorf) to choose the code; any other error becomes server_error.
type Error struct {
	Code      string
	Message   string
	Retryable bool
	Action    *remote.Action
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given protocol code (remote.ErrNotFound,
// remote.ErrConflict …). Retryable is true for rate_limited, server_error and
// network_error.
func Errorf(code string, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Retryable: retryableCode(code)}
}

func retryableCode(code string) bool {
	switch code {
	case remote.ErrRateLimited, remote.ErrServerError, remote.ErrNetworkError:
		return true
	}
	return false
}

// Serve runs the adapter with os.Args, stdin and stdout, and exits with the
// status of Run. SIGTERM and interrupt cancel the handler's context.
func Serve(h Handler) {
	os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, h))
}

// Run handles one invocation. args are the arguments without the program
// name (os.Args[1:]): "--capabilities" or a command name. It returns the
// exit status: 0 on success, 1 when an error answer was written, 2 on usage
// errors.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: epack-remote-%s --capabilities | <command>  (request JSON on stdin)\n", h.Capabilities.Name)
		return 2
	}
	cmd := args[0]
	if cmd == remote.CmdCapabilities {
		if err := writeJSON(stdout, capabilities(h)); err != nil {
			fmt.Fprintf(stderr, "writing capabilities: %v\n", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	body, err := io.ReadAll(io.LimitReader(stdin, MaxRequestBytes+1))
	if err != nil {
		return fail(stdout, stderr, "", Errorf(remote.ErrInvalidRequest, "reading request: %v", err))
	}
	if len(body) > MaxRequestBytes {
		return fail(stdout, stderr, "", Errorf(remote.ErrInvalidRequest, "request larger than %d bytes", MaxRequestBytes))
	}
	var hdr remote.RequestHeader
	if err := remote.DecodeStrict(body, &hdr); err != nil {
		return fail(stdout, stderr, "", Errorf(remote.ErrInvalidRequest, "invalid request: %v", err))
	}
	id := hdr.RequestID
	if hdr.ProtocolVersion != remote.ProtocolVersion {
		return fail(stdout, stderr, id, Errorf(remote.ErrUnsupportedProtocol, "protocol version %d not supported (need %d)", hdr.ProtocolVersion, remote.ProtocolVersion))
	}
	if hdr.Type != cmd {
		return fail(stdout, stderr, id, Errorf(remote.ErrInvalidRequest, "request type %q does not match command %q", hdr.Type, cmd))
	}

	resp, err := call(ctx, cmd, body, h)
	if err != nil {
		return fail(stdout, stderr, id, err)
	}
	setHeader(resp, cmd, id)
	if err := writeJSON(stdout, resp); err != nil {
		fmt.Fprintf(stderr, "writing response: %v\n", err)
		return 1
	}
	return 0
}

// call runs the handler for cmd; a panicking handler becomes server_error.
func call(ctx context.Context, cmd string, body []byte, h Handler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, Errorf(remote.ErrServerError, "adapter handler panicked: %v", p)
		}
	}()
	switch cmd {
	case remote.CmdPushPrepare:
		resp, err = dispatch(ctx, body, h.PushPrepare)
	case remote.CmdPushFinalize:
		resp, err = dispatch(ctx, body, h.PushFinalize)
	case remote.CmdPullPrepare:
		resp, err = dispatch(ctx, body, h.PullPrepare)
	case remote.CmdPullFinalize:
		resp, err = dispatch(ctx, body, h.PullFinalize)
	case remote.CmdRunsSync:
		resp, err = dispatch(ctx, body, h.RunsSync)
	case remote.CmdAuthWhoami:
		if h.Whoami == nil {
			err = unsupported(cmd)
			break
		}
		var id *remote.WhoamiIdentity
		id, err = h.Whoami(ctx)
		if err == nil && id == nil {
			err = Errorf(remote.ErrServerError, "whoami handler returned no identity")
		}
		if err == nil {
			resp = &remote.AuthWhoamiResponse{Identity: *id}
		}
	default:
		err = Errorf(remote.ErrInvalidRequest, "unknown command %q", cmd)
	}
	return resp, err
}

func unsupported(cmd string) error {
	return Errorf(remote.ErrInvalidRequest, "command %q is not supported by this adapter", cmd)
}

// dispatch decodes the request into Req, calls fn and returns its response.
func dispatch[Req any, Resp any](ctx context.Context, body []byte, fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	if fn == nil {
		return nil, Errorf(remote.ErrInvalidRequest, "command is not supported by this adapter")
	}
	var req Req
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, Errorf(remote.ErrInvalidRequest, "invalid request: %v", err)
	}
	resp, err := fn(ctx, &req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, Errorf(remote.ErrServerError, "handler returned no response")
	}
	return resp, nil
}

// setHeader sets ok, type and request_id on the response's header.
func setHeader(resp any, cmd, id string) {
	var h *remote.ResponseHeader
	switch r := resp.(type) {
	case *remote.PushPrepareResponse:
		h = &r.ResponseHeader
	case *remote.PushFinalizeResponse:
		h = &r.ResponseHeader
	case *remote.PullPrepareResponse:
		h = &r.ResponseHeader
	case *remote.PullFinalizeResponse:
		h = &r.ResponseHeader
	case *remote.RunsSyncResponse:
		h = &r.ResponseHeader
	case *remote.AuthWhoamiResponse:
		h = &r.ResponseHeader
	}
	if h != nil {
		h.OK, h.Type, h.RequestID = true, remote.ResultType(cmd), id
	}
}

// capabilities returns the answer to --capabilities.
func capabilities(h Handler) remote.Capabilities {
	c := h.Capabilities
	c.Kind = "remote_adapter"
	c.DeployProtocolVersion = remote.ProtocolVersion
	f := &c.Features
	f.PrepareFinalize = f.PrepareFinalize && h.PushPrepare != nil && h.PushFinalize != nil
	f.Pull = f.Pull && h.PullPrepare != nil && h.PullFinalize != nil
	f.RunsSync = f.RunsSync && h.RunsSync != nil
	f.Whoami = f.Whoami && h.Whoami != nil
	f.AuthLogin = false // the SDK has no login handler
	f.DirectUpload = f.DirectUpload && f.PrepareFinalize
	return c
}

// fail writes an error answer and returns exit status 1.
func fail(stdout, stderr io.Writer, id string, err error) int {
	var e *Error
	if !errors.As(err, &e) {
		code := remote.ErrServerError
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = remote.ErrNetworkError
		}
		e = &Error{Code: code, Message: err.Error(), Retryable: retryableCode(code)}
	}
	resp := remote.ErrorResponse{
		ResponseHeader: remote.ResponseHeader{OK: false, Type: remote.TypeError, RequestID: id},
		Error:          remote.ErrorBody{Code: e.Code, Message: e.Message, Retryable: e.Retryable, Action: e.Action},
	}
	if werr := writeJSON(stdout, resp); werr != nil {
		fmt.Fprintf(stderr, "writing error response: %v\n", werr)
	}
	fmt.Fprintf(stderr, "error: %s: %s\n", e.Code, e.Message)
	return 1
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
