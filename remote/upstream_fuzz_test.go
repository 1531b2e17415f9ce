package remote

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// FuzzCheckResponse feeds arbitrary adapter output to the response check.
// Whatever the bytes, it must not panic, every refusal carries a code, and
// an accepted success answer really is ok:true, of an accepted type for the
// command, and echoes the request id.
func FuzzCheckResponse(f *testing.F) {
	const id = "3f0c5a9e-0000-4000-8000-000000000001"
	for _, s := range []string{sdkPrepare, sdkFinalize, sdkPullPrepare, sdkPullFinalize,
		`{"error":{"action":"acme login","code":"auth_required","message":"m"},"ok":false,"request_id":"__ID__","type":"error"}`,
		`{"error":{"code":"unsupported_protocol","message":"unknown request type: runs.sync"},"ok":false,"request_id":"__ID__","type":"error"}`,
		`{"ok":true,"type":"auth.whoami.result","request_id":"__ID__","identity":{"authenticated":true}}`,
		`{"ok":true,"type":"runs.sync","request_id":"__ID__","accepted":1,"rejected":0,"items":[{"run_id":"a","status":"accepted"}]}`,
	} {
		for cmd := range uint8(6) {
			f.Add(cmd, []byte(strings.ReplaceAll(s, "__ID__", id)+"\n"), false)
		}
	}
	f.Add(uint8(0), []byte(`{"ok":true,"OK":true}`), false)
	f.Add(uint8(0), []byte(`{"error":{"code":"forbidden","message":"x"},"ok":false,"request_id":"","type":"error"}`), true)
	f.Fuzz(func(t *testing.T, which uint8, stdout []byte, failed bool) {
		cmds := []string{protocol.CmdPushPrepare, protocol.CmdPushFinalize, protocol.CmdPullPrepare, protocol.CmdPullFinalize, protocol.CmdRunsSync, protocol.CmdAuthWhoami}
		cmd := cmds[int(which)%len(cmds)]
		var out any
		switch cmd {
		case protocol.CmdPushPrepare:
			out = &protocol.PushPrepareResponse{}
		case protocol.CmdPushFinalize:
			out = &protocol.PushFinalizeResponse{}
		case protocol.CmdPullPrepare:
			out = &protocol.PullPrepareResponse{}
		case protocol.CmdPullFinalize:
			out = &protocol.PullFinalizeResponse{}
		case protocol.CmdRunsSync:
			out = &protocol.RunsSyncResponse{}
		default:
			out = &protocol.AuthWhoamiResponse{}
		}
		exit := 0
		if failed {
			exit = 1
		}
		s := &Session{res: &Resolved{Adapter: "fuzz"}}
		err := s.checkResponse(cmd, id, &runResult{stdout: stdout, exitCode: exit}, out, nil)
		if err != nil {
			if errcode.Of(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			if IsUnsupported(err) && !protocol.OptionalCommand(cmd) {
				t.Fatalf("%s counted as merely unsupported: %v", cmd, err)
			}
			return
		}
		if failed {
			t.Fatal("a non-zero exit was accepted")
		}
		var env struct {
			OK        bool   `json:"ok"`
			Type      string `json:"type"`
			RequestID string `json:"request_id"`
		}
		if jerr := json.Unmarshal(stdout, &env); jerr != nil || !env.OK || !protocol.TypeAnswers(cmd, env.Type) || env.RequestID != id {
			t.Fatalf("accepted %q for %s: %+v %v", stdout, cmd, env, jerr)
		}
	})
}
