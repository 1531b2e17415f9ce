package adapter_test

import (
	"context"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/remote"
)

// A minimal adapter: only whoami. Serve answers --capabilities with whoami
// on and every other feature off, and exits.
func ExampleServe() {
	adapter.Serve(adapter.Handler{
		Capabilities: remote.Capabilities{Name: "acme", Features: remote.Features{Whoami: true}},
		Whoami: func(ctx context.Context) (*remote.WhoamiIdentity, error) {
			return nil, adapter.Errorf(remote.ErrAuthRequired, "no token in ACME_TOKEN")
		},
	})
}
