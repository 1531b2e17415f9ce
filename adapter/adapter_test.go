package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
)

func testHandler() Handler {
	return Handler{
		Capabilities: protocol.Capabilities{Name: "t", Kind: "other", DeployProtocolVersion: 7,
			Features: protocol.Features{PrepareFinalize: true, Pull: true, RunsSync: true, Whoami: true, AuthLogin: true}},
		PushPrepare: func(ctx context.Context, r *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
			switch r.Remote {
			case "conflict":
				return nil, protocol.Errorf(protocol.CodeConflict, "already %s", "there")
			case "busy":
				return nil, protocol.Errorf(protocol.CodeRateLimited, "slow down")
			case "plain":
				return nil, errors.New("disk on fire")
			case "nil":
				return nil, nil
			}
			return &protocol.PushPrepareResponse{Upload: protocol.TransferTarget{Method: "PUT", URL: "https://u"}, FinalizeToken: "tok"}, nil
		},
		Whoami: func(ctx context.Context) (*protocol.WhoamiIdentity, error) {
			return &protocol.WhoamiIdentity{Authenticated: true, Subject: "me"}, nil
		},
	}
}

func run(t *testing.T, h Handler, args []string, stdin string) (int, map[string]any, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errb, h)
	var m map[string]any
	if out.Len() > 0 {
		if err := protocol.DecodeStrict(out.Bytes(), &m); err != nil {
			t.Fatalf("stdout %q: %v", out.String(), err)
		}
	}
	return code, m, errb.String()
}

func TestCapabilities(t *testing.T) {
	code, m, _ := run(t, testHandler(), []string{"--capabilities"}, "")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	f := m["features"].(map[string]any)
	if m["kind"] != "remote_adapter" || m["deploy_protocol_version"] != 1.0 || m["name"] != "t" {
		t.Fatalf("%v", m)
	}
	// No pull/runs/finalize handlers → those features are forced off.
	want := map[string]bool{"prepare_finalize": false, "pull": false, "runs_sync": false, "whoami": true, "auth_login": false}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("feature %s = %v, want %v", k, f[k], v)
		}
	}
}

func TestCommands(t *testing.T) {
	h := testHandler()
	h.PushFinalize = func(ctx context.Context, r *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
		return &protocol.PushFinalizeResponse{Release: protocol.ReleaseResult{ReleaseID: "rel"}}, nil
	}
	req := `{"type":"push.prepare","protocol_version":1,"request_id":"id-1","remote":"origin","target":{},"pack":{"path":"/p","digest":"d","size_bytes":1},"release":{"labels":["a","type"]}}`
	code, m, _ := run(t, h, []string{"push.prepare"}, req)
	if code != 0 || m["ok"] != true || m["type"] != "push.prepare.result" || m["request_id"] != "id-1" || m["finalize_token"] != "tok" {
		t.Fatalf("%d %v", code, m)
	}
	code, m, _ = run(t, h, []string{"auth.whoami"}, `{"type":"auth.whoami","protocol_version":1,"request_id":"w"}`)
	if code != 0 || m["type"] != "auth.whoami.result" || m["identity"].(map[string]any)["subject"] != "me" {
		t.Fatalf("%d %v", code, m)
	}

	for _, tc := range []struct {
		name, cmd, req, code, id string
		retryable                bool
	}{
		{"conflict", "push.prepare", strings.Replace(req, `"origin"`, `"conflict"`, 1), "conflict", "id-1", false},
		{"rate limited", "push.prepare", strings.Replace(req, `"origin"`, `"busy"`, 1), "rate_limited", "id-1", true},
		{"plain error", "push.prepare", strings.Replace(req, `"origin"`, `"plain"`, 1), "server_error", "id-1", true},
		{"nil response", "push.prepare", strings.Replace(req, `"origin"`, `"nil"`, 1), "server_error", "id-1", true},
		{"dup keys", "push.prepare", `{"type":"push.prepare","type":"x","protocol_version":1,"request_id":"a"}`, "invalid_request", "a", false},
		{"not json", "push.prepare", `nope`, "invalid_request", "", false},
		{"empty stdin", "push.prepare", ``, "invalid_request", "", false},
		{"blank stdin", "push.prepare", " \n", "invalid_request", "", false},
		{"json array", "push.prepare", `[1]`, "invalid_request", "", false},
		{"two requests", "push.prepare", `{"type":"push.prepare","protocol_version":1,"request_id":"a"}{}`, "invalid_request", "", false},
		{"protocol 2", "push.prepare", `{"type":"push.prepare","protocol_version":2,"request_id":"a"}`, "unsupported_protocol", "a", false},
		{"type mismatch", "push.prepare", `{"type":"pull.prepare","protocol_version":1,"request_id":"a"}`, "invalid_request", "a", false},
		{"unknown command", "bogus.cmd", `{"type":"bogus.cmd","protocol_version":1,"request_id":"a"}`, "unsupported_protocol", "a", false},
		{"unsupported", "pull.prepare", `{"type":"pull.prepare","protocol_version":1,"request_id":"a"}`, "unsupported_protocol", "a", false},
		{"no login handler", "auth.login", `{"type":"auth.login","protocol_version":1,"request_id":"l"}`, "unsupported_protocol", "l", false},
		{"wrong field type", "push.prepare", `{"type":"push.prepare","protocol_version":1,"request_id":"a","pack":{"size_bytes":"x"}}`, "invalid_request", "a", false},
	} {
		code, m, stderr := run(t, h, []string{tc.cmd}, tc.req)
		// An error answer is an answer: exit 0 (COMPAT §10.1, issue 10 §2).
		if code != 0 {
			t.Errorf("%s: exit %d", tc.name, code)
			continue
		}
		e := m["error"].(map[string]any)
		if m["ok"] != false || m["type"] != "error" || m["request_id"] != tc.id || e["code"] != tc.code || e["retryable"] != tc.retryable || e["message"] == "" {
			t.Errorf("%s: %v", tc.name, m)
		}
		// The answer is the error's only copy (the host prints it once).
		if stderr != "" {
			t.Errorf("%s: the error was echoed on stderr: %q", tc.name, stderr)
		}
	}
	for _, args := range [][]string{nil, {"push.prepare", "extra"}} {
		if code, m, stderr := run(t, h, args, ""); code != ExitUsage || m != nil || !strings.Contains(stderr, "usage") {
			t.Errorf("args %q: exit %d, answer %v, stderr %q", args, code, m, stderr)
		}
	}
}

func TestErrorfRetryable(t *testing.T) {
	for code, want := range map[string]bool{
		protocol.CodeRateLimited: true, protocol.CodeServerError: true, protocol.CodeNetworkError: true,
		protocol.CodeConflict: false, protocol.CodeNotFound: false, protocol.CodeAuthRequired: false,
	} {
		var e *protocol.Error
		if !errors.As(protocol.Errorf(code, "m"), &e) || e.Retryable != want || e.Code != code {
			t.Errorf("%s: %+v", code, e)
		}
	}
	// The error answer is what the host decodes (action is an object: W25).
	var out bytes.Buffer
	fail(&out, &bytes.Buffer{}, "r", &protocol.Error{Code: protocol.CodeAuthRequired, Message: "login", Action: &protocol.Action{Type: "run_command", Command: "x login"}})
	var resp protocol.ErrorResponse
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.Error.Action == nil || resp.Error.Action.Command != "x login" {
		t.Fatalf("%s %v", out.String(), err)
	}
}

func TestHandlerPanicBecomesServerError(t *testing.T) {
	h := Handler{PushFinalize: func(ctx context.Context, r *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
		panic("boom")
	}}
	code, m, _ := run(t, h, []string{"push.finalize"}, `{"type":"push.finalize","protocol_version":1,"request_id":"p"}`)
	if code != 0 || m["request_id"] != "p" || m["error"].(map[string]any)["code"] != "server_error" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "boom") {
		t.Fatalf("%d %v", code, m)
	}
}

// failingWriter is a stdout that cannot be written (a closed pipe).
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestExitOnlyWhenNoAnswer: the one non-zero exit of a protocol command is
// an answer that could not be written, success or error alike.
func TestExitOnlyWhenNoAnswer(t *testing.T) {
	h := testHandler()
	ok := `{"type":"push.prepare","protocol_version":1,"request_id":"id","remote":"origin"}`
	for _, tc := range []struct {
		name, cmd, req string
	}{
		{"success", "push.prepare", ok},
		{"error answer", "push.prepare", `nope`},
		{"capabilities", "--capabilities", ""},
		{"version", "--version", ""},
	} {
		var errb bytes.Buffer
		if code := Run([]string{tc.cmd}, strings.NewReader(tc.req), failingWriter{}, &errb, h); code != ExitNoAnswer || !strings.Contains(errb.String(), "broken pipe") {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, errb.String())
		}
	}
}

// TestErrorAnswerAlwaysWellFormed: a handler error without a code or a
// message, or a response that cannot be encoded, still gives a complete
// error answer with exit 0.
func TestErrorAnswerAlwaysWellFormed(t *testing.T) {
	req := `{"type":"push.finalize","protocol_version":1,"request_id":"r","remote":"origin"}`
	for _, tc := range []struct {
		name string
		fn   func(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error)
		code string
	}{
		{"empty error", func(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
			return nil, &protocol.Error{}
		}, protocol.CodeServerError},
		{"code without message", func(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
			return nil, &protocol.Error{Code: protocol.CodeNotFound}
		}, protocol.CodeNotFound},
		{"unencodable response", func(context.Context, *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
			return &protocol.PushFinalizeResponse{Extensions: map[string]any{"bad": func() {}}}, nil
		}, protocol.CodeServerError},
	} {
		h := Handler{PushFinalize: tc.fn}
		code, m, _ := run(t, h, []string{"push.finalize"}, req)
		if code != 0 || m["ok"] != false || m["type"] != "error" || m["request_id"] != "r" {
			t.Errorf("%s: exit %d %v", tc.name, code, m)
			continue
		}
		e := m["error"].(map[string]any)
		if e["code"] != tc.code || e["message"] == "" {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
}

func TestVersion(t *testing.T) {
	h := testHandler()
	h.Version = "v1.2.3"
	var out bytes.Buffer
	if code := Run([]string{"--version"}, strings.NewReader(""), &out, &bytes.Buffer{}, h); code != 0 || out.String() != "v1.2.3\n" {
		t.Fatalf("exit %d, %q", code, out.String())
	}
	code, m, _ := run(t, h, []string{"--capabilities"}, "")
	if code != 0 || m["version"] != "v1.2.3" {
		t.Fatalf("capabilities %d %v", code, m)
	}
	h.Version = ""
	out.Reset()
	if code := Run([]string{"--version"}, strings.NewReader(""), &out, &bytes.Buffer{}, h); code != 0 || strings.TrimSpace(out.String()) == "" || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("default version: exit %d, %q", code, out.String())
	}
}
