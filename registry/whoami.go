package registry

import (
	"context"

	"github.com/evidencerelay/epack/protocol"
)

// Whoami answers auth.whoami: subject = who the store acts as, issuer =
// where the registry is (a directory or s3://bucket/prefix).
func (r *Registry) Whoami(ctx context.Context) (*protocol.WhoamiIdentity, error) {
	d, ok := r.store.(Describer)
	if !ok {
		return &protocol.WhoamiIdentity{Authenticated: false}, nil
	}
	subject, location, err := d.Whoami(ctx)
	if err != nil {
		return nil, storeErr(err, "checking identity")
	}
	return &protocol.WhoamiIdentity{Authenticated: true, Subject: subject, Issuer: location}, nil
}
