package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/remote"
)

func testHandler() Handler {
	return Handler{
		Capabilities: remote.Capabilities{Name: "t", Kind: "other", DeployProtocolVersion: 7,
			Features: remote.Features{PrepareFinalize: true, Pull: true, RunsSync: true, Whoami: true, AuthLogin: true}},
		PushPrepare: func(ctx context.Context, r *remote.PushPrepareRequest) (*remote.PushPrepareResponse, error) {
			switch r.Remote {
			case "conflict":
				return nil, Errorf(remote.ErrConflict, "already %s", "there")
			case "busy":
				return nil, Errorf(remote.ErrRateLimited, "slow down")
			case "plain":
				return nil, errors.New("disk on fire")
			case "nil":
				return nil, nil
			}
			return &remote.PushPrepareResponse{Upload: remote.TransferTarget{Method: "PUT", URL: "https://u"}, FinalizeToken: "tok"}, nil
		},
		Whoami: func(ctx context.Context) (*remote.WhoamiIdentity, error) {
			return &remote.WhoamiIdentity{Authenticated: true, Subject: "me"}, nil
		},
	}
}

func run(t *testing.T, h Handler, args []string, stdin string) (int, map[string]any, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errb, h)
	var m map[string]any
	if out.Len() > 0 {
		if err := remote.DecodeStrict(out.Bytes(), &m); err != nil {
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
	h.PushFinalize = func(ctx context.Context, r *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error) {
		return &remote.PushFinalizeResponse{Release: remote.ReleaseResult{ReleaseID: "rel"}}, nil
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
		{"dup keys", "push.prepare", `{"type":"push.prepare","type":"x","protocol_version":1,"request_id":"a"}`, "invalid_request", "", false},
		{"not json", "push.prepare", `nope`, "invalid_request", "", false},
		{"protocol 2", "push.prepare", `{"type":"push.prepare","protocol_version":2,"request_id":"a"}`, "unsupported_protocol", "a", false},
		{"type mismatch", "push.prepare", `{"type":"pull.prepare","protocol_version":1,"request_id":"a"}`, "invalid_request", "a", false},
		{"unknown command", "bogus.cmd", `{"type":"bogus.cmd","protocol_version":1,"request_id":"a"}`, "invalid_request", "a", false},
		{"unsupported", "pull.prepare", `{"type":"pull.prepare","protocol_version":1,"request_id":"a"}`, "invalid_request", "a", false},
		{"wrong field type", "push.prepare", `{"type":"push.prepare","protocol_version":1,"request_id":"a","pack":{"size_bytes":"x"}}`, "invalid_request", "a", false},
	} {
		code, m, stderr := run(t, h, []string{tc.cmd}, tc.req)
		if code != 1 {
			t.Errorf("%s: exit %d", tc.name, code)
			continue
		}
		e := m["error"].(map[string]any)
		if m["ok"] != false || m["type"] != "error" || m["request_id"] != tc.id || e["code"] != tc.code || e["retryable"] != tc.retryable || e["message"] == "" {
			t.Errorf("%s: %v", tc.name, m)
		}
		if !strings.Contains(stderr, tc.code) {
			t.Errorf("%s: stderr %q", tc.name, stderr)
		}
	}
	if code, _, _ := run(t, h, nil, ""); code != 2 {
		t.Errorf("no args: exit %d", code)
	}
}

func TestErrorfRetryable(t *testing.T) {
	for code, want := range map[string]bool{
		remote.ErrRateLimited: true, remote.ErrServerError: true, remote.ErrNetworkError: true,
		remote.ErrConflict: false, remote.ErrNotFound: false, remote.ErrAuthRequired: false,
	} {
		var e *Error
		if !errors.As(Errorf(code, "m"), &e) || e.Retryable != want || e.Code != code {
			t.Errorf("%s: %+v", code, e)
		}
	}
	// The error answer is what the host decodes (action is an object: W25).
	var out bytes.Buffer
	fail(&out, &bytes.Buffer{}, "r", &Error{Code: remote.ErrAuthRequired, Message: "login", Action: &remote.Action{Type: "run_command", Command: "x login"}})
	var resp remote.ErrorResponse
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.Error.Action == nil || resp.Error.Action.Command != "x login" {
		t.Fatalf("%s %v", out.String(), err)
	}
}

func TestHandlerPanicBecomesServerError(t *testing.T) {
	h := Handler{PushFinalize: func(ctx context.Context, r *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error) {
		panic("boom")
	}}
	code, m, _ := run(t, h, []string{"push.finalize"}, `{"type":"push.finalize","protocol_version":1,"request_id":"p"}`)
	if code != 1 || m["request_id"] != "p" || m["error"].(map[string]any)["code"] != "server_error" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "boom") {
		t.Fatalf("%d %v", code, m)
	}
}
