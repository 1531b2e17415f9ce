package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/audit"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/protocol"
)

// SessionOptions configure Open.
type SessionOptions struct {
	ProjectRoot string
	Remote      *config.Remote
	Lock        *config.LockFile
	Policy      Policy
	// Stderr receives the adapter's stderr (secrets redacted unless NoRedact)
	// and epack's security warnings. nil discards both.
	Stderr io.Writer
	// NoRedact shows secrets in adapter stderr unredacted (--no-redact).
	// The session never reads it from the environment: the CLI maps
	// EPACK_NO_REDACT to it.
	NoRedact bool
	// Prompt asks whether to install a pinned adapter that is not installed.
	Prompt func(remoteName, adapterName string) bool
	// Install installs it (epack sync); nil means "tell the user to run epack sync".
	Install func(ctx context.Context, r *Resolved) error
	// CapabilitiesCache, when set, is a folder inside ProjectRoot (absolute,
	// or relative to it; workflows use CapabilitiesCacheDir) where the
	// --capabilities answer of a verified adapter is kept for a day, keyed
	// by the digest of the binary and the environment it was given: later
	// sessions skip that process (capscache.go).
	CapabilitiesCache string
}

// Session is one opened adapter: resolved, checked against policy, sealed
// once and probed for capabilities. Every call runs the same sealed copy.
// A Session is safe for concurrent use.
type Session struct {
	opts     SessionOptions
	res      *Resolved
	sealed   *sealedexec.Sealed
	caps     *protocol.Capabilities
	env      []string
	capsEnv  []string
	secrets  []string
	red      *redactor
	calls    *limiter // paces this session's adapter calls
	timeout  time.Duration
	capsTime time.Duration

	mu     sync.Mutex
	closed bool
}

// Open resolves the remote's adapter, applies the policy, seals the binary
// (checking the pinned digest before anything runs) and probes its
// capabilities. The caller must Close the session.
func Open(ctx context.Context, o SessionOptions) (*Session, error) {
	if o.Remote == nil {
		return nil, errcode.New(errcode.InvalidInput, "no remote given")
	}
	r := o.Remote
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	allowUnpinned, err := o.Policy.check(r)
	if err != nil {
		return nil, err
	}
	endpoints, err := endpointEnv(r)
	if err != nil {
		return nil, err
	}

	res, err := Resolve(o.ProjectRoot, r, o.Lock)
	if err != nil {
		return nil, err
	}
	if res.Status == StatusManaged {
		if o.Prompt == nil || o.Install == nil || !o.Prompt(res.Remote, res.Adapter) {
			return nil, errcode.New(errcode.AdapterNotFound, "adapter %q for remote %q (%s) is pinned but not installed", res.Adapter, res.Remote, res.Version).
				WithHint("run 'epack sync' to install it")
		}
		if err := o.Install(ctx, res); err != nil {
			return nil, err
		}
		if res, err = Resolve(o.ProjectRoot, r, o.Lock); err != nil {
			return nil, err
		}
		if res.Status == StatusManaged {
			return nil, errcode.New(errcode.AdapterNotFound, "adapter %q for remote %q is still not installed", res.Adapter, res.Remote).
				WithHint("run 'epack sync' to install it")
		}
	}
	if res.Status == StatusNotFound {
		return nil, notFoundError(r, res)
	}
	if insecureMarker(res) {
		return nil, errcode.New(errcode.InsecureInstall, "adapter %q for remote %q was installed without signature verification (%s)", res.Adapter, res.Remote, InsecureInstallMarker).
			WithHint("reinstall it with signature checks: epack sync")
	}
	if o.Policy.BundledOnly {
		// A registry named by location: no project, no lockfile; only the
		// adapter that ships with this very epack may run.
		if res.Origin != OriginBundled {
			return nil, errcode.New(errcode.AdapterNotFound, "no %s adapter is bundled with this epack (it must sit next to the epack executable)", res.BinaryName()).
				WithHint("install epack and its adapters together: go install github.com/evidencerelay/epack/cmd/...@latest")
		}
		fmt.Fprintf(o.Stderr, "Using the %s adapter bundled with this epack: %s\n", res.Adapter, res.Path)
	} else if res.Status != StatusVerified {
		if o.Policy.Frozen {
			return nil, errcode.New(errcode.LockfileInvalid, "remote %q: adapter %s is not pinned in epack.lock.yaml (frozen)", res.Remote, res.Path).
				WithHint("run 'epack lock %s' and commit epack.lock.yaml", res.Remote)
		}
		if !allowUnpinned {
			what := "remote"
			if r.Binary != "" {
				what = "external remote"
			}
			return nil, errcode.New(errcode.LockfileInvalid, "%s %q is not pinned in lockfile: adapter %s (%s) has no digest for %s", what, res.Remote, res.Path, res.Origin, config.PlatformKey()).
				WithHint("run 'epack lock %s' to pin it, or pass --insecure-allow-unpinned", res.Remote)
		}
		fmt.Fprintf(o.Stderr, "WARNING: running unpinned adapter %s for remote %q without digest verification.\n", res.Path, res.Remote)
		if err := audit.Insecure(o.ProjectRoot, "insecure_bypass", map[string]any{
			"remote": res.Remote, "adapter": res.Adapter, "path": res.Path, "origin": res.Origin,
			"component": o.Policy.component(), "reason": "allow_unpinned",
		}); err != nil {
			return nil, err
		}
	}
	for k, v := range endpoints {
		label := "remote endpoint"
		if k == protocol.EnvAuthEndpoint {
			label = "remote auth endpoint"
		}
		fmt.Fprintf(o.Stderr, "WARNING: Running with custom %s %s.\n", label, v)
		host := ""
		if u, err := url.Parse(v); err == nil {
			host = u.Host
		}
		if err := audit.Insecure(o.ProjectRoot, "custom_endpoint", map[string]any{
			"remote": res.Remote, "component": o.Policy.component(), "variable": k, "remote_endpoint_host": host,
		}); err != nil {
			return nil, err
		}
	}

	sealed, err := sealedexec.Seal(res.Path, res.PinnedDigest)
	if err != nil {
		return nil, err
	}
	s := &Session{opts: o, res: res, sealed: sealed, calls: newLimiter(), timeout: defaultCommandTimeout, capsTime: defaultCapabilitiesTimeout}
	if t := r.Timeout.Std(); t > 0 {
		s.timeout, s.capsTime = t, t
	}
	parent := parentEnv()
	s.env, s.secrets = buildEnv(envSpec{parent: parent, root: o.ProjectRoot, remote: r, endpoints: endpoints, full: true})
	s.capsEnv, _ = buildEnv(envSpec{parent: parent, root: o.ProjectRoot, remote: r})
	s.red = newRedactor(s.secrets, o.NoRedact)
	caps, err := s.probe(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.caps = caps
	return s, nil
}

func notFoundError(r *config.Remote, res *Resolved) error {
	if r.Binary != "" {
		return errcode.New(errcode.BinaryNotFound, "adapter binary %s for remote %q not found", res.Path, res.Remote).
			WithHint("fix 'binary:' of remote %q in epack.yaml", res.Remote)
	}
	if r.Source != "" {
		return errcode.New(errcode.AdapterNotFound, "adapter %q for remote %q not found: it has no version in epack.lock.yaml and is not bundled or on PATH", res.Adapter, res.Remote).
			WithHint("run 'epack sync' to install it")
	}
	return errcode.New(errcode.AdapterNotFound, "adapter %s for remote %q not found next to epack or on PATH", res.BinaryName(), res.Remote).
		WithHint("put %s next to epack ('go install github.com/evidencerelay/epack/cmd/...@latest' installs both into one folder), then run 'epack lock %s'; or set 'binary:' of the remote in epack.yaml",
			res.BinaryName(), res.Remote)
}

// Capabilities returns the adapter's capabilities (probed by Open).
func (s *Session) Capabilities() *protocol.Capabilities {
	c := *s.caps
	return &c
}

// Resolved returns where the adapter was found.
func (s *Session) Resolved() *Resolved {
	r := *s.res
	return &r
}

// Digest returns "sha256:<hex>" of the binary that runs.
func (s *Session) Digest() string { return s.sealed.Digest() }

// Close removes the sealed copy. It is idempotent and safe on nil.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.sealed.Close()
}

func (s *Session) spec(command string, stdin []byte, full bool) (runSpec, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return runSpec{}, errcode.New(errcode.Internal, "adapter session for remote %q is closed", s.res.Remote)
	}
	sp := runSpec{
		sealed: s.sealed, adapter: s.res.Adapter, command: command, stdin: stdin,
		env: s.env, dir: s.opts.ProjectRoot, timeout: s.timeout, stderr: s.opts.Stderr,
		secrets: s.secrets, noRedact: s.opts.NoRedact,
	}
	if !full {
		sp.env, sp.timeout = s.capsEnv, s.capsTime
	}
	// Without a project root the adapter runs where the caller's process
	// runs (exec's empty Dir); the session never asks for that folder itself.
	return sp, nil
}

// probe runs --capabilities and checks the answer (COMPAT §4.6, W27). A
// verified adapter's answer comes from the capabilities cache when it has
// one (checked the same way) and goes into it otherwise.
func (s *Session) probe(ctx context.Context) (*protocol.Capabilities, error) {
	now := time.Now()
	if out := s.cachedCapabilities(now); out != nil {
		if caps, err := s.checkCapabilities(out); err == nil {
			return caps, nil
		}
	}
	sp, err := s.spec(protocol.CmdCapabilities, nil, false)
	if err != nil {
		return nil, err
	}
	res, err := run(ctx, sp)
	if err != nil {
		return nil, err
	}
	if res.exitCode != 0 {
		return nil, exitFailure(s.res.Adapter, protocol.CmdCapabilities, res)
	}
	caps, err := s.checkCapabilities(res.stdout)
	if err != nil {
		return nil, err
	}
	s.storeCapabilities(res.stdout, now)
	return caps, nil
}

// checkCapabilities decodes and checks a --capabilities answer.
func (s *Session) checkCapabilities(out []byte) (*protocol.Capabilities, error) {
	var caps protocol.Capabilities
	if err := protocol.DecodeStrict(out, &caps); err != nil {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdCapabilities, "parsing capabilities: %v", err))
	}
	s.red.Value(&caps)
	if caps.DeployProtocolVersion != protocol.ProtocolVersion {
		return nil, errcode.New(errcode.ProtocolMismatch, "adapter %q: protocol version %d not supported (need %d)", s.res.Adapter, caps.DeployProtocolVersion, protocol.ProtocolVersion).
			WithHint("use an adapter release that speaks Remote Adapter Protocol v%d", protocol.ProtocolVersion)
	}
	if caps.Kind != "" && caps.Kind != "remote_adapter" {
		return nil, errcode.New(errcode.ProtocolMismatch, "adapter %q: kind %q is not remote_adapter", s.res.Adapter, caps.Kind)
	}
	return &caps, nil
}

// exitFailure describes a non-zero exit without a usable error answer.
func exitFailure(adapter, command string, res *runResult) error {
	msg := fmt.Sprintf("adapter %q %s failed: exit status %d", adapter, command, res.exitCode)
	if res.stderr != "" {
		st := res.stderr
		if len(st) > 512 {
			st = "…" + st[len(st)-512:]
		}
		msg += " (stderr: " + st + ")"
	}
	return errcode.New(errcode.AdapterExecFailed, "%s", msg)
}

func protocolError(adapter, command, format string, args ...any) error {
	return errcode.New(errcode.ProtocolMismatch, "adapter %q %s: invalid response: %s", adapter, command, fmt.Sprintf(format, args...))
}

// call runs one protocol command: header filled in, request sent, response
// checked (single JSON value, no duplicate keys, ok/type/request_id, error
// answers) and decoded into out.
func (s *Session) call(ctx context.Context, command string, req any, hdr *protocol.RequestHeader, out any, outHdr *protocol.ResponseHeader) error {
	hdr.Type = command
	hdr.ProtocolVersion = protocol.ProtocolVersion
	hdr.RequestID = newRequestID()
	body, err := json.Marshal(req)
	if err != nil {
		return errcode.Wrap(errcode.Internal, err, "encoding %s request", command)
	}
	if err := s.calls.wait(ctx); err != nil {
		return errcode.Wrap(errcode.Canceled, err, "adapter %q %s", s.res.Adapter, command)
	}
	sp, err := s.spec(command, body, true)
	if err != nil {
		return err
	}
	res, err := run(ctx, sp)
	if err != nil {
		return err
	}
	// Everything the adapter said is redacted here, once, before any caller
	// can show or store it (see redactor.Value for what is left alone).
	if err := s.checkResponse(command, hdr.RequestID, res, out, outHdr); err != nil {
		return s.red.Error(err)
	}
	s.red.Value(out)
	return nil
}

// Redact replaces the values of the remote's secrets (and their URL- and
// JSON-escaped spellings) in text that did not come through a Session call,
// such as a transfer error naming an adapter-given URL. With NoRedact it
// returns text unchanged.
func (s *Session) Redact(text string) string { return s.red.String(text) }

// RedactError is Redact for an error; errors.Is/As still work on the result.
func (s *Session) RedactError(err error) error { return s.red.Error(err) }

// envelope is the part of every response checked before typed decoding.
type envelope struct {
	OK        *bool           `json:"ok"`
	Type      string          `json:"type"`
	RequestID string          `json:"request_id"`
	Error     json.RawMessage `json:"error"`
}

func (s *Session) checkResponse(command, reqID string, res *runResult, out any, outHdr *protocol.ResponseHeader) error {
	a := s.res.Adapter
	var env envelope
	jerr := protocol.DecodeStrict(res.stdout, &env)
	if res.exitCode != 0 {
		if jerr == nil && env.OK != nil && !*env.OK && env.Type == protocol.TypeError && (env.RequestID == "" || env.RequestID == reqID) {
			if ae, ok := decodeErrorBody(a, command, env.Error); ok {
				return s.adapterFailure(command, ae)
			}
		}
		return exitFailure(a, command, res)
	}
	if jerr != nil {
		return protocolError(a, command, "%v", jerr)
	}
	if env.OK == nil {
		return protocolError(a, command, `missing "ok"`)
	}
	hasError := len(env.Error) > 0 && string(env.Error) != "null"
	if !*env.OK {
		if env.Type != protocol.TypeError {
			return protocolError(a, command, "ok:false with type %q (want %q)", env.Type, protocol.TypeError)
		}
		if env.RequestID != reqID && env.RequestID != "" {
			return protocolError(a, command, "request_id %q does not match %q", env.RequestID, reqID)
		}
		if ae, ok := decodeErrorBody(a, command, env.Error); ok {
			return s.adapterFailure(command, ae)
		}
		return protocolError(a, command, "error response without a valid error object")
	}
	if hasError {
		return protocolError(a, command, `ok:true together with an "error" object`)
	}
	if !protocol.TypeAnswers(command, env.Type) {
		return protocolError(a, command, "type %q (want %q); %q, as adapters built with the existing SDK send it, is accepted too", env.Type, protocol.ResultType(command), command)
	}
	if env.RequestID != reqID {
		return protocolError(a, command, "request_id %q does not match %q", env.RequestID, reqID)
	}
	if err := json.Unmarshal(res.stdout, out); err != nil {
		return protocolError(a, command, "%v", err)
	}
	if err := protocol.CheckRequired(res.stdout, out); err != nil {
		return protocolError(a, command, "%v", err)
	}
	_ = outHdr
	return nil
}

// adapterFailure turns a well-formed error answer into the error a Session
// method returns. unsupported_protocol for an optional command (runs.sync,
// auth.whoami, auth.login) means the adapter does not implement it — the
// existing tool's SDK answers so even when the capabilities announce the
// feature — so it becomes an unsupported_feature error, exactly like a
// feature the capabilities leave out (see IsUnsupported). For any other
// command it stays a protocol mismatch.
func (s *Session) adapterFailure(command string, ae *AdapterError) error {
	err := wrapAdapterError(ae)
	if ae.Body.Code != protocol.CodeUnsupportedProtocol || !protocol.OptionalCommand(command) {
		return err
	}
	// Keep the AdapterError as wrapAdapterError left it, without its code.
	cause := error(ae)
	var inner *AdapterError
	if errors.As(err, &inner) {
		cause = inner
	}
	return errcode.Wrap(errcode.UnsupportedFeature, cause, "adapter %q does not support %s", s.res.Adapter, featureName(command))
}

// featureName is how error messages name an optional command.
func featureName(command string) string {
	switch command {
	case protocol.CmdAuthWhoami:
		return "whoami"
	case protocol.CmdAuthLogin:
		return "login"
	}
	return command
}

// IsUnsupported reports whether err says the adapter does not support the
// optional command that was called: its capabilities leave the feature out,
// or it answered unsupported_protocol. Callers skip the command and say so
// instead of failing.
func IsUnsupported(err error) bool {
	return errcode.Has(err, errcode.UnsupportedFeature)
}

func decodeErrorBody(adapter, command string, raw json.RawMessage) (*AdapterError, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var b protocol.Error
	if err := json.Unmarshal(raw, &b); err != nil || strings.TrimSpace(b.Code) == "" {
		return nil, false
	}
	return &AdapterError{Adapter: adapter, Command: command, Body: b}, true
}

// needFeature refuses a call the adapter did not announce.
func (s *Session) needFeature(ok bool, what string) error {
	if ok {
		return nil
	}
	return errcode.New(errcode.UnsupportedFeature, "adapter %q does not support %s", s.res.Adapter, what)
}

// PushPrepare asks where to upload a pack. The request header (and Remote,
// when empty) is filled in; req is not modified.
func (s *Session) PushPrepare(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
	if err := s.needFeature(s.caps.Features.PrepareFinalize, "prepare/finalize upload protocol"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	var out protocol.PushPrepareResponse
	if err := s.call(ctx, protocol.CmdPushPrepare, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// PushFinalize asks the adapter to create the release.
func (s *Session) PushFinalize(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
	if err := s.needFeature(s.caps.Features.PrepareFinalize, "prepare/finalize upload protocol"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	var out protocol.PushFinalizeResponse
	if err := s.call(ctx, protocol.CmdPushFinalize, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// PullPrepare asks where to download a pack from.
func (s *Session) PullPrepare(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
	if err := s.needFeature(s.caps.Features.Pull, "pull operations"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	var out protocol.PullPrepareResponse
	if err := s.call(ctx, protocol.CmdPullPrepare, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// PullFinalize confirms a completed download.
func (s *Session) PullFinalize(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
	if err := s.needFeature(s.caps.Features.Pull, "pull operations"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	var out protocol.PullFinalizeResponse
	if err := s.call(ctx, protocol.CmdPullFinalize, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// RunsSync uploads run results tied to a pack.
func (s *Session) RunsSync(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
	if err := s.needFeature(s.caps.Features.RunsSync, "runs.sync"); err != nil {
		return nil, err
	}
	r := *req
	var out protocol.RunsSyncResponse
	if err := s.call(ctx, protocol.CmdRunsSync, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// Whoami asks the adapter who it acts as.
func (s *Session) Whoami(ctx context.Context) (*protocol.AuthWhoamiResponse, error) {
	if err := s.needFeature(s.caps.Features.Whoami, "whoami"); err != nil {
		return nil, err
	}
	var r protocol.AuthRequest
	var out protocol.AuthWhoamiResponse
	if err := s.call(ctx, protocol.CmdAuthWhoami, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// envNoRedact, when set to a true value, turns off secret redaction of
// adapter stderr. Only the CLI reads it, and passes SessionOptions.NoRedact
// (or the push/pull NoRedact option) on.
const envNoRedact = "EPACK_NO_REDACT"
