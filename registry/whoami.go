package registry

import (
	"context"

	"github.com/evidencerelay/epack/remote"
)

// Whoami answers auth.whoami: subject = who the store acts as, issuer =
// where the registry is (a directory or s3://bucket/prefix).
func (r *Registry) Whoami(ctx context.Context) (*remote.WhoamiIdentity, error) {
	d, ok := r.store.(Describer)
	if !ok {
		return &remote.WhoamiIdentity{Authenticated: false}, nil
	}
	subject, location, err := d.Whoami(ctx)
	if err != nil {
		return nil, storeErr(err, "checking identity")
	}
	return &remote.WhoamiIdentity{Authenticated: true, Subject: subject, Issuer: location}, nil
}
