package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry/adapterhandler"
	"github.com/evidencerelay/epack/registry/ocistore"
)

func main() {
	var reg *ocistore.Registry
	h := handler(&reg)
	if len(os.Args) == 2 && os.Args[1] != protocol.CmdCapabilities && os.Args[1] != adapter.CmdVersion {
		var err error
		if reg, err = open(); err != nil {
			h = adapterhandler.Unavailable(h, fmt.Errorf("OCI registry: %w", err))
		}
	}
	adapter.Serve(h)
}

// handler serves *ref, which is set before any command but
// --capabilities and --version is answered.
func handler(ref **ocistore.Registry) adapter.Handler {
	h := adapter.Handler{Capabilities: ocistore.Capabilities()}
	h.PushPrepare = func(ctx context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
		resp, err := (*ref).PushPrepare(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	h.PushFinalize = func(ctx context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
		resp, err := (*ref).PushFinalize(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	h.PullPrepare = func(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
		resp, err := (*ref).PullPrepare(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	h.PullFinalize = func(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
		resp, err := (*ref).PullFinalize(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	h.RunsSync = func(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
		resp, err := (*ref).RunsSync(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	h.Whoami = func(ctx context.Context) (*protocol.WhoamiIdentity, error) {
		id, err := (*ref).Whoami(ctx)
		return id, adapterhandler.ProtocolError(err)
	}
	h.ReleasesList = func(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
		resp, err := (*ref).ReleasesList(ctx, req)
		return resp, adapterhandler.ProtocolError(err)
	}
	return h
}

// open opens the registry the host named in EPACK_REMOTE_CONFIG, with the
// credentials of the remote's secrets or the Docker config.
func open() (*ocistore.Registry, error) {
	cfg, warnings, err := ocistore.ParseConfig(os.Getenv(protocol.EnvRemoteConfig))
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "epack-remote-oci: warning:", w)
	}
	if err != nil {
		return nil, err
	}
	return ocistore.New(cfg, ocistore.Options{
		Credentials: ocistore.Credentials{
			Username:     os.Getenv(ocistore.EnvUsername),
			Password:     os.Getenv(ocistore.EnvPassword),
			Token:        os.Getenv(ocistore.EnvToken),
			DockerConfig: dockerConfig(),
		},
		FileRoot: os.Getenv(protocol.EnvFileRoot),
	})
}

// dockerConfig is $DOCKER_CONFIG/config.json, else ~/.docker/config.json
// ("" when neither can be named).
func dockerConfig() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".docker", "config.json")
	}
	return ""
}
