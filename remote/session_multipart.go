package remote

import (
	"context"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// PushParts asks the adapter for upload targets of more parts of the
// multipart upload a push.prepare answer started (protocol.CmdPushParts),
// and, with ListUploaded, for the parts the store holds. The adapter must
// announce features.multipart_upload. The request is checked before
// anything runs (invalid_input), and the answer must hold a target for
// exactly the parts asked for. The request header (and Remote, when empty)
// is filled in; req is not modified.
func (s *Session) PushParts(ctx context.Context, req *protocol.PushPartsRequest) (*protocol.PushPartsResponse, error) {
	if err := s.needFeature(s.caps.Features.MultipartUpload, "multipart uploads (push.parts)"); err != nil {
		return nil, err
	}
	r := *req
	if r.Remote == "" {
		r.Remote = s.res.Remote
	}
	if err := r.Check(); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "push.parts for remote %q", s.res.Remote)
	}
	var out protocol.PushPartsResponse
	if err := s.call(ctx, protocol.CmdPushParts, &r, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	asked := make(map[int]bool, len(r.PartNumbers))
	for _, n := range r.PartNumbers {
		asked[n] = true
	}
	for _, t := range out.Parts {
		if !asked[t.PartNumber] {
			return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdPushParts, "a target for part %d, which was not asked for", t.PartNumber))
		}
		delete(asked, t.PartNumber)
	}
	if len(asked) > 0 {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdPushParts, "%d of the %d parts asked for have no target", len(asked), len(r.PartNumbers)))
	}
	return &out, nil
}
