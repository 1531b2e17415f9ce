package remote

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// A failed exit quotes the adapter's stderr up to 512 bytes whole and
// otherwise its last 512 bytes after an ellipsis.
func TestExitFailureStderrTail(t *testing.T) {
	head := strings.Repeat("h", 100)
	tail := strings.Repeat("t", 512)
	for _, tc := range []struct {
		name, stderr, want string
	}{
		{"none", "", `adapter "a" push.prepare failed: exit status 3`},
		{"exactly 512 bytes", tail, `adapter "a" push.prepare failed: exit status 3 (stderr: ` + tail + ")"},
		{"longer", head + tail, `adapter "a" push.prepare failed: exit status 3 (stderr: …` + tail + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := exitFailure("a", protocol.CmdPushPrepare, &runResult{exitCode: 3, stderr: tc.stderr})
			wantCode(t, err, errcode.AdapterExecFailed)
			if err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err.Error(), tc.want)
			}
		})
	}
}

// With a non-zero exit, a well-formed error answer counts when it names
// this request or no request; one naming another request is not this
// request's answer, so the exit status is reported.
func TestErrorAnswerWithNonzeroExit(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		code     errcode.Code
		msg      string
	}{
		{"this request", `"$ID"`, errcode.RemoteForbidden, `forbidden; adapter says: "no access"`},
		{"no request id", `""`, errcode.RemoteForbidden, `forbidden; adapter says: "no access"`},
		{"another request", `"other"`, errcode.AdapterExecFailed, "exit status 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			bin := scriptAdapter(t, t.TempDir(), "epack-remote-script",
				`printf '{"ok":false,"type":"error","request_id":"%s","error":{"code":"forbidden","message":"no access"}}' `+tc.id+`; exit 3`)
			p.pin("origin", bin)
			s, err := p.open(p.remote("origin", bin), Policy{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.PushPrepare(context.Background(), &protocol.PushPrepareRequest{})
			wantCode(t, err, tc.code, tc.msg)
		})
	}
}

// Every request carries the remote: the caller's, or the session's when
// the caller leaves it empty.
func TestRequestsCarryTheRemote(t *testing.T) {
	p := newProject(t)
	// The adapter answers each command with the remote it was sent.
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `R=$(printf '%s' "$REQ" | sed -n 's/.*"remote":"\([^"]*\)".*/\1/p')
case "$1" in
push.prepare) printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT","url":"https://x.invalid/u"},"finalize_token":"%s"}' "$ID" "$R" ;;
push.finalize) printf '{"ok":true,"type":"push.finalize.result","request_id":"%s","release":{"release_id":"rel-%s","pack_digest":"sha256:00"}}' "$ID" "$R" ;;
pull.prepare) printf '{"ok":true,"type":"pull.prepare.result","request_id":"%s","download":{"method":"GET","url":"https://x.invalid/d"},"pack":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size_bytes":1},"finalize_token":"%s"}' "$ID" "$R" ;;
pull.finalize) printf '{"ok":false,"type":"error","request_id":"%s","error":{"code":"conflict","message":"remote %s"}}' "$ID" "$R" ;;
esac`)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, remote := range []string{"", "explicit"} {
		want := remote
		if want == "" {
			want = "origin"
		}
		calls := map[string]func() (string, error){
			protocol.CmdPushPrepare: func() (string, error) {
				r, err := s.PushPrepare(ctx, &protocol.PushPrepareRequest{Remote: remote})
				if err != nil {
					return "", err
				}
				return r.FinalizeToken, nil
			},
			protocol.CmdPushFinalize: func() (string, error) {
				r, err := s.PushFinalize(ctx, &protocol.PushFinalizeRequest{Remote: remote})
				if err != nil {
					return "", err
				}
				return strings.TrimPrefix(r.Release.ReleaseID, "rel-"), nil
			},
			protocol.CmdPullPrepare: func() (string, error) {
				r, err := s.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: remote, Ref: protocol.PullRef{Latest: true}})
				if err != nil {
					return "", err
				}
				return r.FinalizeToken, nil
			},
			protocol.CmdPullFinalize: func() (string, error) {
				_, err := s.PullFinalize(ctx, &protocol.PullFinalizeRequest{Remote: remote})
				var ae *AdapterError
				if !errors.As(err, &ae) {
					return "", err
				}
				return strings.TrimPrefix(ae.Body.Message, "remote "), nil
			},
		}
		for cmd, call := range calls {
			got, err := call()
			if err != nil || got != want {
				t.Errorf("%s with remote %q: the adapter got remote %q (%v), want %q", cmd, remote, got, err, want)
			}
		}
	}
}
