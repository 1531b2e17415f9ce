package main

import (
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
		h = registry.Unavailable(h, fmt.Errorf("filesystem registry: %w", openErr))
	}
	adapter.Serve(h)
}

func options() registry.Options {
	return registry.Options{Name: "filesystem", MaxRunsPerSync: 1000}
}
