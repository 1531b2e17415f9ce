package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/evidencerelay/epack/remote"
)

// Handler implements an adapter. A nil function means the command is not
// supported; the matching capability feature is then forced to false.
type Handler struct {
	// Capabilities is answered to --capabilities. Kind and
	// DeployProtocolVersion are always set to "remote_adapter" and 1.
	Capabilities remote.Capabilities
	// Version is printed by --version and reported as "version" in the
	// capabilities; "" means the main module's version from the build
	// info ("dev" for a local build).
	Version      string
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

// Exit statuses of Run. An error answer is an answer: hosts (ours and the
// existing epack tool) read it whatever the status, and the existing tool's
// adapter checker requires status 0 with it, so only a failure to answer at
// all is a non-zero exit.
const (
	// ExitAnswered: one well-formed answer, success or error, was written.
	ExitAnswered = 0
	// ExitNoAnswer: no answer could be written (stdout closed or failing).
	ExitNoAnswer = 1
	// ExitUsage: not invoked as an adapter (no command, or extra
	// arguments); there is no request to answer. Usage goes to stderr.
	ExitUsage = 2
)

// CmdVersion prints the adapter version on one line (as adapters built
// with the existing epack tool's SDK do).
const CmdVersion = "--version"

// Serve runs the adapter with os.Args, stdin and stdout, and exits with the
// status of Run. SIGTERM and interrupt cancel the handler's context.
func Serve(h Handler) {
	os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, h))
}

// Run handles one invocation. args are the arguments without the program
// name (os.Args[1:]): "--capabilities", "--version" or a command name. It
// returns the exit status: ExitAnswered whenever a well-formed answer was
// written — a result or an error answer (bad request, unknown command,
// failing handler…) — ExitNoAnswer when writing to stdout failed, and
// ExitUsage for a wrong number of arguments.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: epack-remote-%s --capabilities | --version | <command>  (request JSON on stdin)\n", h.Capabilities.Name)
		return ExitUsage
	}
	cmd := args[0]
	switch cmd {
	case remote.CmdCapabilities:
		return written(stderr, "capabilities", writeJSON(stdout, capabilities(h)))
	case CmdVersion:
		_, err := fmt.Fprintln(stdout, version(h))
		return written(stderr, "version", err)
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
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(stdout, stderr, "", Errorf(remote.ErrInvalidRequest, "empty request: send one JSON request object on stdin"))
	}
	var hdr remote.RequestHeader
	if err := remote.DecodeStrict(body, &hdr); err != nil {
		return fail(stdout, stderr, looseRequestID(body), Errorf(remote.ErrInvalidRequest, "invalid request: %v", err))
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
	b, err := json.Marshal(resp)
	if err != nil {
		return fail(stdout, stderr, id, Errorf(remote.ErrServerError, "encoding %s response: %v", cmd, err))
	}
	return written(stderr, "response", writeLine(stdout, b))
}

// written maps the outcome of writing an answer to the exit status.
func written(stderr io.Writer, what string, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "writing %s: %v\n", what, err)
		return ExitNoAnswer
	}
	return ExitAnswered
}

// looseRequestID reads request_id from a request that failed strict
// decoding (duplicate keys, a wrong field type elsewhere), so the error
// answer can still echo it; "" when it cannot be read.
func looseRequestID(body []byte) string {
	var v struct {
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.RequestID
}

// version is what --version prints and capabilities report.
func version(h Handler) string {
	if h.Version != "" {
		return h.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
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
		resp, err = dispatch(ctx, cmd, body, h.PushPrepare)
	case remote.CmdPushFinalize:
		resp, err = dispatch(ctx, cmd, body, h.PushFinalize)
	case remote.CmdPullPrepare:
		resp, err = dispatch(ctx, cmd, body, h.PullPrepare)
	case remote.CmdPullFinalize:
		resp, err = dispatch(ctx, cmd, body, h.PullFinalize)
	case remote.CmdRunsSync:
		resp, err = dispatch(ctx, cmd, body, h.RunsSync)
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
	case remote.CmdAuthLogin:
		err = unsupported(cmd) // the SDK has no login handler
	default:
		err = Errorf(remote.ErrUnsupportedProtocol, "unknown command %q: this adapter speaks %s, %s, %s, %s, %s and %s",
			cmd, remote.CmdPushPrepare, remote.CmdPushFinalize, remote.CmdPullPrepare, remote.CmdPullFinalize, remote.CmdRunsSync, remote.CmdAuthWhoami)
	}
	return resp, err
}

// unsupported answers a command the adapter does not implement. The code is
// unsupported_protocol, as adapters built with the existing epack tool's SDK
// answer it, so both hosts read it as "this adapter does not support that".
func unsupported(cmd string) error {
	return Errorf(remote.ErrUnsupportedProtocol, "command %q is not supported by this adapter", cmd)
}

// dispatch decodes the request into Req, calls fn and returns its response.
func dispatch[Req any, Resp any](ctx context.Context, cmd string, body []byte, fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	if fn == nil {
		return nil, unsupported(cmd)
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

// capabilitiesAnswer is the --capabilities document: the protocol's
// fields plus "version", which the existing epack tool's adapters also
// report (hosts ignore keys they do not know).
type capabilitiesAnswer struct {
	remote.Capabilities
	Version string `json:"version,omitempty"`
}

// capabilities returns the answer to --capabilities.
func capabilities(h Handler) capabilitiesAnswer {
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
	return capabilitiesAnswer{Capabilities: c, Version: version(h)}
}

// fail writes err as an error answer with request id id and returns the
// exit status: ExitAnswered once the answer is written. An error that is not
// an *Error becomes server_error (network_error for a canceled context); an
// empty code or message is filled in so the answer is always well-formed.
func fail(stdout, stderr io.Writer, id string, err error) int {
	var e *Error
	if !errors.As(err, &e) {
		code := remote.ErrServerError
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = remote.ErrNetworkError
		}
		e = &Error{Code: code, Message: err.Error(), Retryable: retryableCode(code)}
	}
	body := remote.ErrorBody{Code: e.Code, Message: e.Message, Retryable: e.Retryable, Action: e.Action}
	if strings.TrimSpace(body.Code) == "" {
		body.Code, body.Retryable = remote.ErrServerError, true
	}
	if strings.TrimSpace(body.Message) == "" {
		body.Message = "the adapter failed without a message (" + body.Code + ")"
	}
	resp := remote.ErrorResponse{
		ResponseHeader: remote.ResponseHeader{OK: false, Type: remote.TypeError, RequestID: id},
		Error:          body,
	}
	fmt.Fprintf(stderr, "error: %s: %s\n", body.Code, body.Message)
	return written(stderr, "error response", writeJSON(stdout, resp))
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeLine(w, b)
}

// writeLine writes b and a newline in one call.
func writeLine(w io.Writer, b []byte) error {
	_, err := w.Write(append(b, '\n'))
	return err
}
