// Command sdkadapter is a test remote adapter built with the adapter SDK. Its
// behaviour comes from EPACK_REMOTE_CONFIG (the remote's extensions):
//
//	subject: "alice"        whoami subject (authenticated when set)
//	fail: "<code>"          every command answers this protocol error
//	no_whoami: true         whoami handler absent
//	issuer_argv0: true      whoami issuer = os.Args[0]
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
)

type settings struct {
	Subject  string `json:"subject"`
	Fail     string `json:"fail"`
	NoWhoami bool   `json:"no_whoami"`
	Argv0    bool   `json:"issuer_argv0"`
}

func main() {
	var cfg settings
	_ = json.Unmarshal([]byte(os.Getenv(protocol.EnvRemoteConfig)), &cfg)
	failing := func() error {
		if cfg.Fail != "" {
			e := protocol.Errorf(cfg.Fail, "configured to fail with %s", cfg.Fail)
			if cfg.Fail == protocol.CodeAuthRequired {
				e.Action = &protocol.Action{Type: "run_command", Command: "sdkadapter login"}
			}
			return e
		}
		return nil
	}
	h := adapter.Handler{
		Capabilities: protocol.Capabilities{
			Name:     "sdk",
			Features: protocol.Features{PrepareFinalize: true, Pull: true, RunsSync: true, Whoami: true},
			Limits:   protocol.Limits{MaxPackBytes: 1 << 30},
		},
		PushPrepare: func(ctx context.Context, r *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			return &protocol.PushPrepareResponse{
				Upload:        protocol.TransferTarget{Method: "PUT", URL: "https://registry.invalid/" + strings.TrimPrefix(r.Pack.FileDigest, "sha256:")},
				FinalizeToken: "tok-" + r.Remote,
			}, nil
		},
		PushFinalize: func(ctx context.Context, r *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			return &protocol.PushFinalizeResponse{Release: protocol.ReleaseResult{ReleaseID: "rel_1", PackDigest: r.Pack.Digest}}, nil
		},
		PullPrepare: func(ctx context.Context, r *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			return &protocol.PullPrepareResponse{
				Download:      protocol.TransferTarget{Method: "GET", URL: "https://registry.invalid/p"},
				Pack:          protocol.PulledPack{Digest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 42, Stream: "s"},
				FinalizeToken: "ptok",
			}, nil
		},
		PullFinalize: func(ctx context.Context, r *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			return &protocol.PullFinalizeResponse{Confirmed: true}, nil
		},
		RunsSync: func(ctx context.Context, r *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			out := &protocol.RunsSyncResponse{Items: []protocol.RunStatus{}}
			for _, run := range r.Runs {
				out.Items = append(out.Items, protocol.RunStatus{RunID: run.RunID, Status: protocol.RunAccepted})
				out.Accepted++
			}
			return out, nil
		},
	}
	if !cfg.NoWhoami {
		h.Whoami = func(ctx context.Context) (*protocol.WhoamiIdentity, error) {
			if err := failing(); err != nil {
				return nil, err
			}
			issuer := "test-issuer"
			if cfg.Argv0 {
				issuer = os.Args[0]
			}
			return &protocol.WhoamiIdentity{Authenticated: cfg.Subject != "", Subject: cfg.Subject, Issuer: issuer}, nil
		}
	}
	adapter.Serve(h)
}
