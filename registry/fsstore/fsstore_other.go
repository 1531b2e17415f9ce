//go:build !unix

package fsstore

import (
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/remote"
)

// Store is unavailable on this platform (it needs no-follow *at system calls).
type Store struct{ registry.Store }

// New always fails on this platform.
func New(root string) (*Store, error) {
	return nil, registry.Errorf(remote.ErrServerError, "the filesystem registry is only supported on unix systems")
}

// Root returns "".
func (s *Store) Root() string { return "" }
