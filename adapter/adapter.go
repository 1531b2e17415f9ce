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

	"github.com/evidencerelay/epack/protocol"
)

// Handler implements an adapter. A nil function means the command is not
// supported; the matching capability feature is then forced to false.
type Handler struct {
	// Capabilities is answered to --capabilities. Kind and
	// DeployProtocolVersion are always set to "remote_adapter" and 1.
	Capabilities protocol.Capabilities
	// Version is printed by --version and reported as "version" in the
	// capabilities; "" means the main module's version from the build
	// info ("dev" for a local build).
	Version      string
	PushPrepare  func(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error)
	PushFinalize func(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error)
	PullPrepare  func(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error)
	PullFinalize func(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error)
	RunsSync     func(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error)
	Whoami       func(ctx context.Context) (*protocol.WhoamiIdentity, error)
	// ReleasesList answers releases.list (our addition to the protocol).
	// The request is checked (protocol.ReleasesListRequest.Check) before it
	// is called; a nil Releases in its answer is sent as [].
	ReleasesList func(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error)
	// LogStreams, LogRead and BlobsCheck answer the release log commands
	// (features.release_log; all three or none), GC registry.gc
	// (features.gc), Hold release.hold (features.legal_hold). Each request
	// is checked (its Check method) before the handler sees it.
	LogStreams func(ctx context.Context, req *protocol.LogStreamsRequest) (*protocol.LogStreamsResponse, error)
	LogRead    func(ctx context.Context, req *protocol.LogReadRequest) (*protocol.LogReadResponse, error)
	BlobsCheck func(ctx context.Context, req *protocol.BlobsCheckRequest) (*protocol.BlobsCheckResponse, error)
	GC         func(ctx context.Context, req *protocol.GCRequest) (*protocol.GCResponse, error)
	Hold       func(ctx context.Context, req *protocol.HoldRequest) (*protocol.HoldResponse, error)
	// PushParts answers push.parts (features.multipart_upload; see
	// protocol/multipart.go). The request is checked before it is called.
	PushParts func(ctx context.Context, req *protocol.PushPartsRequest) (*protocol.PushPartsResponse, error)
}

// MaxRequestBytes bounds a request read from stdin.
const MaxRequestBytes = 10 << 20

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
	case protocol.CmdCapabilities:
		return written(stderr, "capabilities", writeJSON(stdout, capabilities(h)))
	case CmdVersion:
		_, err := fmt.Fprintln(stdout, version(h))
		return written(stderr, "version", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	body, err := io.ReadAll(io.LimitReader(stdin, MaxRequestBytes+1))
	if err != nil {
		return fail(stdout, stderr, "", protocol.Errorf(protocol.CodeInvalidRequest, "reading request: %v", err))
	}
	if len(body) > MaxRequestBytes {
		return fail(stdout, stderr, "", protocol.Errorf(protocol.CodeInvalidRequest, "request larger than %d bytes", MaxRequestBytes))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(stdout, stderr, "", protocol.Errorf(protocol.CodeInvalidRequest, "empty request: send one JSON request object on stdin"))
	}
	var hdr protocol.RequestHeader
	if err := protocol.DecodeStrict(body, &hdr); err != nil {
		return fail(stdout, stderr, looseRequestID(body), protocol.Errorf(protocol.CodeInvalidRequest, "invalid request: %v", err))
	}
	id := hdr.RequestID
	if hdr.ProtocolVersion != protocol.ProtocolVersion {
		return fail(stdout, stderr, id, protocol.Errorf(protocol.CodeUnsupportedProtocol, "protocol version %d not supported (need %d)", hdr.ProtocolVersion, protocol.ProtocolVersion))
	}
	if hdr.Type != cmd {
		return fail(stdout, stderr, id, protocol.Errorf(protocol.CodeInvalidRequest, "request type %q does not match command %q", hdr.Type, cmd))
	}

	resp, err := call(ctx, cmd, body, h)
	if err != nil {
		return fail(stdout, stderr, id, err)
	}
	setHeader(resp, cmd, id)
	b, err := json.Marshal(resp)
	if err != nil {
		return fail(stdout, stderr, id, protocol.Errorf(protocol.CodeServerError, "encoding %s response: %v", cmd, err))
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
			resp, err = nil, protocol.Errorf(protocol.CodeServerError, "adapter handler panicked: %v", p)
		}
	}()
	switch cmd {
	case protocol.CmdPushPrepare:
		resp, err = dispatch(ctx, cmd, body, h.PushPrepare)
	case protocol.CmdPushFinalize:
		resp, err = dispatch(ctx, cmd, body, h.PushFinalize)
	case protocol.CmdPullPrepare:
		resp, err = dispatch(ctx, cmd, body, h.PullPrepare)
	case protocol.CmdPullFinalize:
		resp, err = dispatch(ctx, cmd, body, h.PullFinalize)
	case protocol.CmdRunsSync:
		resp, err = dispatch(ctx, cmd, body, h.RunsSync)
	case protocol.CmdAuthWhoami:
		if h.Whoami == nil {
			err = unsupported(cmd)
			break
		}
		var id *protocol.WhoamiIdentity
		id, err = h.Whoami(ctx)
		if err == nil && id == nil {
			err = protocol.Errorf(protocol.CodeServerError, "whoami handler returned no identity")
		}
		if err == nil {
			resp = &protocol.AuthWhoamiResponse{Identity: *id}
		}
	case protocol.CmdReleasesList:
		resp, err = dispatch(ctx, cmd, body, checkedReleasesList(h.ReleasesList))
	case protocol.CmdLogStreams:
		resp, err = dispatch(ctx, cmd, body, checked(h.LogStreams))
	case protocol.CmdLogRead:
		resp, err = dispatch(ctx, cmd, body, checked(h.LogRead))
	case protocol.CmdBlobsCheck:
		resp, err = dispatch(ctx, cmd, body, checked(h.BlobsCheck))
	case protocol.CmdGC:
		resp, err = dispatch(ctx, cmd, body, checked(h.GC))
	case protocol.CmdHold:
		resp, err = dispatch(ctx, cmd, body, checked(h.Hold))
	case protocol.CmdPushParts:
		resp, err = dispatch(ctx, cmd, body, checked(h.PushParts))
	case protocol.CmdAuthLogin:
		err = unsupported(cmd) // the SDK has no login handler
	default:
		err = protocol.Errorf(protocol.CodeUnsupportedProtocol, "unknown command %q: this adapter speaks %s, %s, %s, %s, %s, %s and %s",
			cmd, protocol.CmdPushPrepare, protocol.CmdPushFinalize, protocol.CmdPullPrepare, protocol.CmdPullFinalize, protocol.CmdRunsSync, protocol.CmdAuthWhoami, protocol.CmdReleasesList)
	}
	return resp, err
}

// checkedReleasesList wraps a releases.list handler: the request is checked
// before fn sees it, and the answer always carries a releases array.
func checkedReleasesList(fn func(context.Context, *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error)) func(context.Context, *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
		if err := req.Check(); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalidRequest, "invalid releases.list request: %v", err)
		}
		resp, err := fn(ctx, req)
		if err == nil && resp != nil && resp.Releases == nil {
			resp.Releases = []protocol.ReleaseEntry{}
		}
		return resp, err
	}
}

// checked wraps a handler whose request has a Check method: a request it
// refuses is answered invalid_request before fn sees it.
func checked[Req any, PReq interface {
	*Req
	Check() error
}, Resp any](fn func(context.Context, PReq) (*Resp, error)) func(context.Context, *Req) (*Resp, error) {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context, req *Req) (*Resp, error) {
		if err := PReq(req).Check(); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalidRequest, "invalid request: %v", err)
		}
		return fn(ctx, req)
	}
}

// unsupported answers a command the adapter does not implement. The code is
// unsupported_protocol, as adapters built with the existing epack tool's SDK
// answer it, so both hosts read it as "this adapter does not support that".
func unsupported(cmd string) error {
	return protocol.Errorf(protocol.CodeUnsupportedProtocol, "command %q is not supported by this adapter", cmd)
}

// dispatch decodes the request into Req, calls fn and returns its response.
func dispatch[Req any, Resp any](ctx context.Context, cmd string, body []byte, fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	if fn == nil {
		return nil, unsupported(cmd)
	}
	var req Req
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidRequest, "invalid request: %v", err)
	}
	resp, err := fn(ctx, &req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, protocol.Errorf(protocol.CodeServerError, "handler returned no response")
	}
	return resp, nil
}

// setHeader sets ok, type and request_id on the response's header.
func setHeader(resp any, cmd, id string) {
	var h *protocol.ResponseHeader
	switch r := resp.(type) {
	case *protocol.PushPrepareResponse:
		h = &r.ResponseHeader
	case *protocol.PushFinalizeResponse:
		h = &r.ResponseHeader
	case *protocol.PullPrepareResponse:
		h = &r.ResponseHeader
	case *protocol.PullFinalizeResponse:
		h = &r.ResponseHeader
	case *protocol.RunsSyncResponse:
		h = &r.ResponseHeader
	case *protocol.AuthWhoamiResponse:
		h = &r.ResponseHeader
	case *protocol.ReleasesListResponse:
		h = &r.ResponseHeader
	case interface {
		Header() *protocol.ResponseHeader
	}:
		h = r.Header()
	}
	if h != nil {
		h.OK, h.Type, h.RequestID = true, protocol.ResultType(cmd), id
	}
}

// capabilitiesAnswer is the --capabilities document: the protocol's
// fields plus "version", which the existing epack tool's adapters also
// report (hosts ignore keys they do not know).
type capabilitiesAnswer struct {
	protocol.Capabilities
	Version string `json:"version,omitempty"`
}

// capabilities returns the answer to --capabilities.
func capabilities(h Handler) capabilitiesAnswer {
	c := h.Capabilities
	c.Kind = "remote_adapter"
	c.DeployProtocolVersion = protocol.ProtocolVersion
	f := &c.Features
	f.PrepareFinalize = f.PrepareFinalize && h.PushPrepare != nil && h.PushFinalize != nil
	f.Pull = f.Pull && h.PullPrepare != nil && h.PullFinalize != nil
	f.RunsSync = f.RunsSync && h.RunsSync != nil
	f.Whoami = f.Whoami && h.Whoami != nil
	f.ReleasesList = f.ReleasesList && h.ReleasesList != nil
	f.ReleaseLog = f.ReleaseLog && h.LogStreams != nil && h.LogRead != nil && h.BlobsCheck != nil
	f.GC = f.GC && h.GC != nil
	f.LegalHold = f.LegalHold && h.Hold != nil
	f.MultipartUpload = f.MultipartUpload && h.PushParts != nil && f.PrepareFinalize
	if !f.MultipartUpload {
		c.Limits.Multipart = nil
	}
	f.AuthLogin = false // the SDK has no login handler
	f.DirectUpload = f.DirectUpload && f.PrepareFinalize
	return capabilitiesAnswer{Capabilities: c, Version: version(h)}
}

// fail writes err as an error answer with request id id and returns the
// exit status: ExitAnswered once the answer is written. An error that is not
// a *protocol.Error becomes server_error (network_error for a canceled context); an
// empty code or message is filled in so the answer is always well-formed.
func fail(stdout, stderr io.Writer, id string, err error) int {
	var e *protocol.Error
	if !errors.As(err, &e) {
		code := protocol.CodeServerError
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = protocol.CodeNetworkError
		}
		e = &protocol.Error{Code: code, Message: err.Error(), Retryable: protocol.RetryableCode(code)}
	}
	body := protocol.Error{Code: e.Code, Message: e.Message, Retryable: e.Retryable, Action: e.Action}
	if strings.TrimSpace(body.Code) == "" {
		body.Code, body.Retryable = protocol.CodeServerError, true
	}
	if strings.TrimSpace(body.Message) == "" {
		body.Message = "the adapter failed without a message (" + body.Code + ")"
	}
	resp := protocol.ErrorResponse{
		ResponseHeader: protocol.ResponseHeader{OK: false, Type: protocol.TypeError, RequestID: id},
		Error:          body,
	}
	// The answer is the error's only copy: the host prints it (marked as
	// the adapter's words), and an echo on stderr would show it twice.
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
