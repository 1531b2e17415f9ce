package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// The bytes below are what an adapter built with the existing tool's Go SDK
// writes (COMPAT §10.1): keys sorted (the SDK encodes maps), one compact
// object and a newline per answer, "type" equal to the request's type,
// error answers with exit status 0, "retryable" only when true, "action" a
// plain string, and unsupported_protocol for every command it does not
// dispatch.

// upstreamCaps is the SDK's indented capabilities answer.
const upstreamCaps = `{
  "deploy_protocol_version": 1,
  "description": "an adapter built with the upstream SDK",
  "features": {
    "prepare_finalize": true,
    "pull": true,
    "runs_sync": true,
    "whoami": true
  },
  "kind": "remote_adapter",
  "limits": {
    "max_pack_size": 5000
  },
  "name": "upsdk",
  "version": "1.0.0"
}
`

// upstreamScript writes a shell adapter that, like the SDK, ignores argv
// (except --capabilities), reads the request's type and request_id from
// stdin, and prints the canned answer for that type with __ID__ replaced by
// the request id. Types without an answer get the SDK's unsupported_protocol
// error. It always exits 0.
func upstreamScript(t *testing.T, caps string, answers map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for typ, body := range answers {
		if err := os.WriteFile(filepath.Join(dir, typ+".json"), []byte(body+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "caps.json"), []byte(caps), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `#!/bin/sh
D='` + dir + `'
for a in "$@"; do
  if [ "$a" = "--capabilities" ]; then cat "$D/caps.json"; exit 0; fi
done
REQ=$(cat)
TYPE=$(printf '%s' "$REQ" | sed -n 's/^{"type":"\([^"]*\)".*/\1/p')
ID=$(printf '%s' "$REQ" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
if [ -f "$D/$TYPE.json" ]; then
  sed "s/__ID__/$ID/g" "$D/$TYPE.json"
else
  printf '{"error":{"code":"unsupported_protocol","message":"unknown request type: %s"},"ok":false,"request_id":"%s","type":"error"}\n' "$TYPE" "$ID"
fi
exit 0
`
	p := filepath.Join(t.TempDir(), "epack-remote-upsdk")
	if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	sdkPrepare      = `{"finalize_token":"9f1c2e","ok":true,"request_id":"__ID__","type":"push.prepare","upload":{"expires_at":"2030-01-01T00:00:00Z","method":"PUT","url":"https://registry.invalid/u/9f1c2e"}}`
	sdkFinalize     = `{"links":{"pack":"https://registry.invalid/p/1","release":"https://registry.invalid/r/1"},"ok":true,"release":{"created_at":"","pack_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001","release_id":"rel-9f1c2e"},"request_id":"__ID__","type":"push.finalize"}`
	sdkPullPrepare  = `{"download":{"expires_at":"2030-01-01T00:00:00Z","url":"https://registry.invalid/d/1"},"finalize_token":"77aa","ok":true,"pack":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size_bytes":1024},"request_id":"__ID__","type":"pull.prepare"}`
	sdkPullFinalize = `{"confirmed":true,"ok":true,"request_id":"__ID__","type":"pull.finalize"}`
)

func openUpstream(t *testing.T, caps string, answers map[string]string) *Session {
	t.Helper()
	p := newProject(t)
	bin := upstreamScript(t, caps, answers)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestUpstreamSDKAdapterAccepted(t *testing.T) {
	s := openUpstream(t, upstreamCaps, map[string]string{
		protocol.CmdPushPrepare: sdkPrepare, protocol.CmdPushFinalize: sdkFinalize,
		protocol.CmdPullPrepare: sdkPullPrepare, protocol.CmdPullFinalize: sdkPullFinalize,
	})
	c := s.Capabilities()
	if c.Name != "upsdk" || !c.Features.PrepareFinalize || !c.Features.Pull || c.Features.AuthLogin {
		t.Fatalf("caps %+v", c)
	}
	if c.Limits.MaxPackSize != 5000 || c.Limits.MaxPack() != 5000 {
		t.Fatalf("limits %+v (max_pack_size must count as the pack limit)", c.Limits)
	}
	ctx := context.Background()
	pp, err := s.PushPrepare(ctx, &protocol.PushPrepareRequest{Pack: protocol.PackInfo{Path: "/x.epack", SizeBytes: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if pp.Type != protocol.CmdPushPrepare || pp.Upload.Method != "PUT" || pp.FinalizeToken != "9f1c2e" || pp.Upload.ExpiresAt == "" {
		t.Fatalf("prepare %+v", pp)
	}
	pf, err := s.PushFinalize(ctx, &protocol.PushFinalizeRequest{FinalizeToken: pp.FinalizeToken})
	if err != nil {
		t.Fatal(err)
	}
	if pf.Release.ReleaseID != "rel-9f1c2e" || !pf.Release.CreatedAt.IsZero() || pf.Links["release"] == "" || pf.Links["pack"] == "" {
		t.Fatalf("finalize %+v", pf)
	}
	pl, err := s.PullPrepare(ctx, &protocol.PullPrepareRequest{Ref: protocol.PullRef{Latest: true}})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Download.Method != "" || pl.Download.URL == "" || pl.Pack.SizeBytes != 1024 || pl.FinalizeToken != "77aa" {
		t.Fatalf("pull prepare %+v", pl)
	}
	fin, err := s.PullFinalize(ctx, &protocol.PullFinalizeRequest{Digest: pl.Pack.Digest})
	if err != nil || !fin.Confirmed {
		t.Fatalf("pull finalize %+v %v", fin, err)
	}
}

// An optional command the SDK does not dispatch is "not supported", not a
// protocol failure; a required one stays a protocol failure.
func TestUpstreamSDKUnsupportedProtocol(t *testing.T) {
	s := openUpstream(t, upstreamCaps, map[string]string{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		code errcode.Code
		msg  string
	}{
		{"runs.sync", func() error {
			_, err := s.RunsSync(ctx, &protocol.RunsSyncRequest{Runs: []protocol.RunItem{{RunID: "r1"}}})
			return err
		}, errcode.UnsupportedFeature, `adapter "upsdk" does not support runs.sync`},
		{"auth.whoami", func() error { _, err := s.Whoami(ctx); return err }, errcode.UnsupportedFeature, `adapter "upsdk" does not support whoami`},
		{"push.prepare", func() error { _, err := s.PushPrepare(ctx, &protocol.PushPrepareRequest{}); return err }, errcode.ProtocolMismatch, "unsupported_protocol"},
		{"pull.finalize", func() error { _, err := s.PullFinalize(ctx, &protocol.PullFinalizeRequest{}); return err }, errcode.ProtocolMismatch, "unsupported_protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, tc.code, tc.msg)
			if tc.code == errcode.UnsupportedFeature {
				if errcode.Has(err, errcode.ProtocolMismatch) {
					t.Fatalf("unsupported optional command still carries protocol_mismatch: %v", err)
				}
				if !IsUnsupported(err) {
					t.Fatal("IsUnsupported is false")
				}
				var ae *AdapterError
				if !errors.As(err, &ae) || ae.Body.Code != protocol.CodeUnsupportedProtocol {
					t.Fatalf("adapter error not kept: %#v", ae)
				}
			} else if IsUnsupported(err) {
				t.Fatal("a required command must not count as merely unsupported")
			}
		})
	}
}

// Error answers as the SDK writes them: action a string, retryable only when true.
func TestUpstreamSDKErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       errcode.Code
		retryable  bool
		hint       string
	}{
		{"string action command", `{"error":{"action":"acme-cli login","code":"auth_required","message":"log in first"},"ok":false,"request_id":"__ID__","type":"error"}`, errcode.AuthRequired, false, "acme-cli login"},
		{"string action url", `{"error":{"action":"https://acme.invalid/login","code":"auth_required","message":"log in first"},"ok":false,"request_id":"__ID__","type":"error"}`, errcode.AuthRequired, false, "https://acme.invalid/login"},
		{"object action", `{"error":{"action":{"type":"run_command","command":"acme-cli login"},"code":"auth_required","message":"m"},"ok":false,"request_id":"__ID__","type":"error"}`, errcode.AuthRequired, false, "acme-cli login"},
		{"retryable true", `{"error":{"code":"server_error","message":"try later","retryable":true},"ok":false,"request_id":"__ID__","type":"error"}`, errcode.AdapterError, true, ""},
		{"retryable omitted", `{"error":{"code":"not_found","message":"no such pack"},"ok":false,"request_id":"__ID__","type":"error"}`, errcode.AdapterError, false, ""},
		{"request id empty", `{"error":{"code":"invalid_request","message":"failed to parse request JSON"},"ok":false,"request_id":"","type":"error"}`, errcode.AdapterError, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openUpstream(t, upstreamCaps, map[string]string{protocol.CmdPullPrepare: tc.body})
			_, err := s.PullPrepare(context.Background(), &protocol.PullPrepareRequest{Ref: protocol.PullRef{Latest: true}})
			wantCode(t, err, tc.code, "")
			var ae *AdapterError
			if !errors.As(err, &ae) || ae.Retryable() != tc.retryable {
				t.Fatalf("adapter error %#v from %v", ae, err)
			}
			// How a hint is worded is errors.go's business; what it says is ours.
			if got := errcode.HintOf(err); (tc.hint == "") != (got == "") || !strings.Contains(got, tc.hint) {
				t.Fatalf("hint %q, want one naming %q", got, tc.hint)
			}
			if tc.hint != "" {
				want := protocol.ActionRunCommand
				if strings.HasPrefix(tc.hint, "https://") {
					want = protocol.ActionOpenURL
				}
				if ae.Body.Action == nil || ae.Body.Action.Type != want {
					t.Fatalf("action %+v, want type %s", ae.Body.Action, want)
				}
			}
		})
	}
}

// Accepting the SDK's spelling must not open the door to anything else.
func TestUpstreamSDKMalformedStillRefused(t *testing.T) {
	for _, tc := range []struct {
		name, cmd, body, msg string
	}{
		{"other command's type", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"type":"push.prepare"`, `"type":"pull.prepare"`, 1), `type "pull.prepare" (want "push.prepare.result"`},
		{"other command's result type", protocol.CmdPushFinalize, strings.Replace(sdkFinalize, `"type":"push.finalize"`, `"type":"push.prepare.result"`, 1), `type "push.prepare.result" (want "push.finalize.result"`},
		{"result suffix twice", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"type":"push.prepare"`, `"type":"push.prepare.result.result"`, 1), `type "push.prepare.result.result"`},
		{"type missing", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"type":"push.prepare",`, ``, 1), `type "" (want`},
		{"type error with ok true", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"type":"push.prepare"`, `"type":"error"`, 1), `type "error"`},
		{"case differs", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"type":"push.prepare"`, `"type":"Push.Prepare"`, 1), `type "Push.Prepare"`},
		{"wrong request id", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `__ID__`, `not-the-id`, 1), `request_id "not-the-id" does not match`},
		{"empty request id", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `__ID__`, ``, 1), `request_id "" does not match`},
		{"finalize_token missing", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"finalize_token":"9f1c2e",`, ``, 1), "finalize_token is missing"},
		{"finalize_token null", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `"finalize_token":"9f1c2e"`, `"finalize_token":null`, 1), "finalize_token is missing"},
		{"upload url missing", protocol.CmdPushPrepare, strings.Replace(sdkPrepare, `,"url":"https://registry.invalid/u/9f1c2e"`, ``, 1), "upload.url is missing"},
		{"release id empty", protocol.CmdPushFinalize, strings.Replace(sdkFinalize, `"release_id":"rel-9f1c2e"`, `"release_id":""`, 1), "release.release_id is missing"},
		{"created_at not a time", protocol.CmdPushFinalize, strings.Replace(sdkFinalize, `"created_at":""`, `"created_at":"yesterday"`, 1), "invalid response"},
		{"pull digest not sha256", protocol.CmdPullPrepare, strings.Replace(sdkPullPrepare, `"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"`, `"digest":"sha256:example"`, 1), "pack.digest"},
		{"pull size missing", protocol.CmdPullPrepare, strings.Replace(sdkPullPrepare, `,"size_bytes":1024`, ``, 1), "pack.size_bytes"},
		{"pull type of push", protocol.CmdPullPrepare, strings.Replace(sdkPullPrepare, `"type":"pull.prepare"`, `"type":"push.prepare"`, 1), `type "push.prepare"`},
		{"error answer with another id", protocol.CmdPushPrepare, `{"error":{"code":"conflict","message":"m"},"ok":false,"request_id":"other","type":"error"}`, `request_id "other" does not match`},
		{"error answer typed as command", protocol.CmdPushPrepare, `{"error":{"code":"conflict","message":"m"},"ok":false,"request_id":"__ID__","type":"push.prepare"}`, `ok:false with type "push.prepare"`},
		{"action neither string nor object", protocol.CmdPushPrepare, `{"error":{"action":7,"code":"conflict","message":"m"},"ok":false,"request_id":"__ID__","type":"error"}`, "without a valid error object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openUpstream(t, upstreamCaps, map[string]string{tc.cmd: tc.body})
			ctx := context.Background()
			var err error
			switch tc.cmd {
			case protocol.CmdPushPrepare:
				_, err = s.PushPrepare(ctx, &protocol.PushPrepareRequest{})
			case protocol.CmdPushFinalize:
				_, err = s.PushFinalize(ctx, &protocol.PushFinalizeRequest{})
			case protocol.CmdPullPrepare:
				_, err = s.PullPrepare(ctx, &protocol.PullPrepareRequest{})
			}
			wantCode(t, err, errcode.ProtocolMismatch, tc.msg)
		})
	}
}

// An empty finalize token that is present is the adapter's choice (the
// upstream host sends it back as is); only a missing one is malformed.
func TestUpstreamSDKEmptyFinalizeToken(t *testing.T) {
	s := openUpstream(t, upstreamCaps, map[string]string{
		protocol.CmdPushPrepare: strings.Replace(sdkPrepare, `"finalize_token":"9f1c2e"`, `"finalize_token":""`, 1),
	})
	pp, err := s.PushPrepare(context.Background(), &protocol.PushPrepareRequest{})
	if err != nil || pp.FinalizeToken != "" {
		t.Fatalf("%+v %v", pp, err)
	}
}

func TestCapabilitiesLimitSpellings(t *testing.T) {
	for _, tc := range []struct {
		limits string
		want   int64
	}{
		{`{"max_pack_bytes":100}`, 100},
		{`{"max_pack_size":200}`, 200},
		{`{"max_pack_bytes":300,"max_pack_size":200}`, 200}, // the stricter one
		{`{"max_pack_bytes":0,"max_pack_size":0}`, 0},
		{`{}`, 0},
	} {
		caps := `{"name":"x","deploy_protocol_version":1,"features":{"prepare_finalize":true},"limits":` + tc.limits + `}`
		s := openUpstream(t, caps, nil)
		if got := s.Capabilities().Limits.MaxPack(); got != tc.want {
			t.Errorf("%s: MaxPack %d, want %d", tc.limits, got, tc.want)
		}
	}
}
