//go:build !unix

package fsstore

import (
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Store is unavailable on this platform (it needs no-follow *at system calls).
type Store struct{ registry.Store }

// New always fails on this platform.
func New(root string) (*Store, error) {
	return nil, protocol.Errorf(protocol.CodeServerError, "the filesystem registry is only supported on unix systems")
}

// Root returns "".
func (s *Store) Root() string { return "" }
