package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Adapter is the protocol surface the suite drives: *registry.Registry in
// process, or Process (a real adapter binary).
type Adapter interface {
	PushPrepare(context.Context, *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error)
	PushFinalize(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error)
	PullPrepare(context.Context, *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error)
	PullFinalize(context.Context, *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error)
	RunsSync(context.Context, *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error)
	Whoami(context.Context) (*protocol.WhoamiIdentity, error)
	ReleasesList(context.Context, *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error)
	LogStreams(context.Context, *protocol.LogStreamsRequest) (*protocol.LogStreamsResponse, error)
	LogRead(context.Context, *protocol.LogReadRequest) (*protocol.LogReadResponse, error)
	BlobsCheck(context.Context, *protocol.BlobsCheckRequest) (*protocol.BlobsCheckResponse, error)
	GC(context.Context, *protocol.GCRequest) (*protocol.GCResponse, error)
}

var _ Adapter = (*registry.Registry)(nil)

// ProtoError is an error answer from an adapter process.
type ProtoError struct {
	Body protocol.Error
	// ExitCode is the process's exit status (always 0: Raw refuses an
	// answer with another status).
	ExitCode int
}

func (e *ProtoError) Error() string {
	return fmt.Sprintf("%s: %s (retryable=%v)", e.Body.Code, e.Body.Message, e.Body.Retryable)
}

// Code returns the protocol error code of err ("" for nil).
func Code(err error) string {
	if err == nil {
		return ""
	}
	var pe *ProtoError
	if errors.As(err, &pe) {
		return pe.Body.Code
	}
	return registry.CodeOf(err)
}

// Retryable reports the retryable flag of err.
func Retryable(err error) bool {
	var pe *ProtoError
	if errors.As(err, &pe) {
		return pe.Body.Retryable
	}
	var re *protocol.Error
	if errors.As(err, &re) {
		return re.Retryable
	}
	return false
}

// Process runs a real adapter binary once per request, the way the host
// does: argv[1] = command, one JSON request on stdin, JSON on stdout.
type Process struct {
	Bin string
	Env []string // complete environment of the process
	Dir string   // working directory
}

var reqSeq atomic.Int64

func (p *Process) call(ctx context.Context, cmd string, hdr *protocol.RequestHeader, req, resp any) error {
	*hdr = protocol.RequestHeader{Type: cmd, ProtocolVersion: protocol.ProtocolVersion, RequestID: fmt.Sprintf("req-%d-%d", time.Now().UnixNano(), reqSeq.Add(1))}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return p.Raw(ctx, cmd, body, hdr.RequestID, resp)
}

// Raw sends body as the request of cmd and decodes the answer into resp.
func (p *Process) Raw(ctx context.Context, cmd string, body []byte, requestID string, resp any) error {
	c := exec.CommandContext(ctx, p.Bin, cmd)
	c.Env = p.Env
	c.Dir = p.Dir
	c.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	runErr := c.Run()
	var head struct {
		OK        bool           `json:"ok"`
		Type      string         `json:"type"`
		RequestID string         `json:"request_id"`
		Error     protocol.Error `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &head); err != nil {
		return fmt.Errorf("%s: unparsable answer (%v): stdout %q stderr %q", cmd, runErr, stdout.String(), stderr.String())
	}
	if requestID != "" && head.RequestID != requestID {
		return fmt.Errorf("%s: request_id %q echoed as %q", cmd, requestID, head.RequestID)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		code = ee.ExitCode()
	} else if runErr != nil {
		return fmt.Errorf("%s: running adapter: %v", cmd, runErr)
	}
	// Our adapters exit 0 with every answer they write, error answers
	// included (the existing epack tool's adapter checker requires it).
	if code != 0 {
		return fmt.Errorf("%s: answer with exit status %d (want 0): stdout %q stderr %q", cmd, code, stdout.String(), stderr.String())
	}
	if !head.OK {
		if head.Type != protocol.TypeError {
			return fmt.Errorf("%s: error answer with type %q", cmd, head.Type)
		}
		return &ProtoError{Body: head.Error, ExitCode: code}
	}
	if head.Type != protocol.ResultType(cmd) {
		return fmt.Errorf("%s: answer type %q", cmd, head.Type)
	}
	if strings.TrimSpace(stderr.String()) != "" {
		// Allowed (logs), but keep the output small.
		if stderr.Len() > 64<<10 {
			return fmt.Errorf("%s: %d bytes on stderr", cmd, stderr.Len())
		}
	}
	// The host's checks: one strict JSON value with the fields its type requires.
	if err := protocol.DecodeStrict(stdout.Bytes(), resp); err != nil {
		return fmt.Errorf("%s: answer refused by the strict reader: %v", cmd, err)
	}
	if err := protocol.CheckRequired(stdout.Bytes(), resp); err != nil {
		return fmt.Errorf("%s: answer misses a required field: %v", cmd, err)
	}
	return nil
}

// PushPrepare implements Adapter.
func (p *Process) PushPrepare(ctx context.Context, r *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
	var out protocol.PushPrepareResponse
	return &out, p.call(ctx, protocol.CmdPushPrepare, &r.RequestHeader, r, &out)
}

// PushFinalize implements Adapter.
func (p *Process) PushFinalize(ctx context.Context, r *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
	var out protocol.PushFinalizeResponse
	return &out, p.call(ctx, protocol.CmdPushFinalize, &r.RequestHeader, r, &out)
}

// PullPrepare implements Adapter.
func (p *Process) PullPrepare(ctx context.Context, r *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
	var out protocol.PullPrepareResponse
	return &out, p.call(ctx, protocol.CmdPullPrepare, &r.RequestHeader, r, &out)
}

// PullFinalize implements Adapter.
func (p *Process) PullFinalize(ctx context.Context, r *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
	var out protocol.PullFinalizeResponse
	return &out, p.call(ctx, protocol.CmdPullFinalize, &r.RequestHeader, r, &out)
}

// RunsSync implements Adapter.
func (p *Process) RunsSync(ctx context.Context, r *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
	var out protocol.RunsSyncResponse
	return &out, p.call(ctx, protocol.CmdRunsSync, &r.RequestHeader, r, &out)
}

// Whoami implements Adapter.
func (p *Process) Whoami(ctx context.Context) (*protocol.WhoamiIdentity, error) {
	var out protocol.AuthWhoamiResponse
	req := &protocol.AuthRequest{}
	if err := p.call(ctx, protocol.CmdAuthWhoami, &req.RequestHeader, req, &out); err != nil {
		return nil, err
	}
	return &out.Identity, nil
}

// ReleasesList implements Adapter.
func (p *Process) ReleasesList(ctx context.Context, r *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
	var out protocol.ReleasesListResponse
	return &out, p.call(ctx, protocol.CmdReleasesList, &r.RequestHeader, r, &out)
}

// LogStreams implements Adapter.
func (p *Process) LogStreams(ctx context.Context, r *protocol.LogStreamsRequest) (*protocol.LogStreamsResponse, error) {
	var out protocol.LogStreamsResponse
	return &out, p.call(ctx, protocol.CmdLogStreams, &r.RequestHeader, r, &out)
}

// LogRead implements Adapter.
func (p *Process) LogRead(ctx context.Context, r *protocol.LogReadRequest) (*protocol.LogReadResponse, error) {
	var out protocol.LogReadResponse
	return &out, p.call(ctx, protocol.CmdLogRead, &r.RequestHeader, r, &out)
}

// BlobsCheck implements Adapter.
func (p *Process) BlobsCheck(ctx context.Context, r *protocol.BlobsCheckRequest) (*protocol.BlobsCheckResponse, error) {
	var out protocol.BlobsCheckResponse
	return &out, p.call(ctx, protocol.CmdBlobsCheck, &r.RequestHeader, r, &out)
}

// GC implements Adapter.
func (p *Process) GC(ctx context.Context, r *protocol.GCRequest) (*protocol.GCResponse, error) {
	var out protocol.GCResponse
	return &out, p.call(ctx, protocol.CmdGC, &r.RequestHeader, r, &out)
}

// Capabilities runs `<bin> --capabilities`.
func (p *Process) Capabilities(ctx context.Context) (*protocol.Capabilities, error) {
	c := exec.CommandContext(ctx, p.Bin, protocol.CmdCapabilities)
	c.Env = p.Env
	out, err := c.Output()
	if err != nil {
		return nil, err
	}
	var caps protocol.Capabilities
	return &caps, json.Unmarshal(out, &caps)
}
