package main

import (
	"context"
	"fmt"
	"os"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/remote"
)

func main() {
	reg := registry.New(nil, options())
	h := reg.Handler()
	root := os.Getenv("EPACK_REMOTE_FILE_ROOT")
	var store *fsstore.Store
	var openErr error
	if len(os.Args) == 2 && os.Args[1] != remote.CmdCapabilities {
		store, openErr = fsstore.New(root)
		if openErr == nil {
			h = registry.New(store, options()).Handler()
		}
	}
	if openErr != nil {
		h = failing(h, openErr)
	}
	adapter.Serve(h)
}

func options() registry.Options {
	return registry.Options{Name: "filesystem", MaxRunsPerSync: 1000}
}

// failing answers every command with err (the registry could not be opened).
func failing(h adapter.Handler, err error) adapter.Handler {
	e := registry.ProtocolError(fmt.Errorf("filesystem registry: %w", err))
	h.PushPrepare = func(context.Context, *remote.PushPrepareRequest) (*remote.PushPrepareResponse, error) { return nil, e }
	h.PushFinalize = func(context.Context, *remote.PushFinalizeRequest) (*remote.PushFinalizeResponse, error) {
		return nil, e
	}
	h.PullPrepare = func(context.Context, *remote.PullPrepareRequest) (*remote.PullPrepareResponse, error) { return nil, e }
	h.PullFinalize = func(context.Context, *remote.PullFinalizeRequest) (*remote.PullFinalizeResponse, error) {
		return nil, e
	}
	h.RunsSync = func(context.Context, *remote.RunsSyncRequest) (*remote.RunsSyncResponse, error) { return nil, e }
	h.Whoami = func(context.Context) (*remote.WhoamiIdentity, error) { return nil, e }
	return h
}
