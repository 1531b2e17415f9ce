package remote

import (
	"context"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// ReleasesList asks the adapter for one page of the releases its registry
// holds, newest first (protocol.ReleasesListRequest). The adapter must
// announce features.releases_list; otherwise, or when it answers
// unsupported_protocol, the error is unsupported_feature (IsUnsupported).
// The request is checked before anything runs (invalid_input), and the
// answer may hold no more releases than the page asked for. The request
// header (and Remote, when empty) is filled in; req is not modified.
func (s *Session) ReleasesList(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
	if err := s.needFeature(s.caps.Features.ReleasesList, "listing releases (releases.list)"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	if err := r.Check(); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "releases.list for remote %q", s.res.Remote)
	}
	var out protocol.ReleasesListResponse
	if err := s.call(ctx, protocol.CmdReleasesList, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	if n, limit := len(out.Releases), r.PageLimit(); n > limit {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdReleasesList, "%d releases for a page of %d", n, limit))
	}
	return &out, nil
}
