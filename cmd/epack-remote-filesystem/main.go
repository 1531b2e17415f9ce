package main

import (
	"fmt"
	"os"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/adapterhandler"
	"github.com/evidencerelay/epack/registry/fsstore"
)

func main() {
	h := adapterhandler.New(registry.New(nil, options()))
	if len(os.Args) == 2 && os.Args[1] != protocol.CmdCapabilities && os.Args[1] != adapter.CmdVersion {
		store, err := open()
		if err != nil {
			h = adapterhandler.Unavailable(h, fmt.Errorf("filesystem registry: %w", err))
		} else {
			h = adapterhandler.New(registry.New(store, options()))
		}
	}
	adapter.Serve(h)
}

// open opens the registry directory the host named: EPACK_REMOTE_FILE_ROOT
// (our host) or FS_REGISTRY_ROOT (a host that passes only secrets:).
func open() (*fsstore.Store, error) {
	root, err := fsstore.RegistryRoot(os.Getenv(protocol.EnvFileRoot), os.Getenv(fsstore.EnvRegistryRoot))
	if err != nil {
		return nil, err
	}
	return fsstore.New(root)
}

func options() registry.Options {
	return registry.Options{Name: "filesystem", MaxRunsPerSync: 1000, NoFileChecksum: true}
}
