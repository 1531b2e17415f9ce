package adapter_test

import (
	"context"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
)

// A minimal adapter: only whoami. Serve answers --capabilities with whoami
// on and every other feature off, and exits.
func ExampleServe() {
	adapter.Serve(adapter.Handler{
		Capabilities: protocol.Capabilities{Name: "acme", Features: protocol.Features{Whoami: true}},
		Whoami: func(ctx context.Context) (*protocol.WhoamiIdentity, error) {
			return nil, protocol.Errorf(protocol.CodeAuthRequired, "no token in ACME_TOKEN")
		},
	})
}
