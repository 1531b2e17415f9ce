package remote

import (
	"context"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// The release log, garbage collection and legal holds (our additions to
// the protocol: protocol/log.go, gc.go, hold.go). Each needs its feature in
// the adapter's capabilities; otherwise, or when the adapter answers
// unsupported_protocol, the error is unsupported_feature (IsUnsupported).
// Requests are checked before anything runs (invalid_input); the request
// header (and Remote, when empty) is filled in; req is not modified.

// LogStreams asks for one page of the streams that have release records.
func (s *Session) LogStreams(ctx context.Context, req *protocol.LogStreamsRequest) (*protocol.LogStreamsResponse, error) {
	r := *req
	var out protocol.LogStreamsResponse
	if err := logCall(ctx, s, s.caps.Features.ReleaseLog, "the release log (log.streams)", protocol.CmdLogStreams, &r, &r.Remote, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	if n, limit := len(out.Streams), r.PageLimit(); n > limit {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdLogStreams, "%d streams for a page of %d", n, limit))
	}
	return &out, nil
}

// LogRead asks for one page of a stream's release records.
func (s *Session) LogRead(ctx context.Context, req *protocol.LogReadRequest) (*protocol.LogReadResponse, error) {
	r := *req
	var out protocol.LogReadResponse
	if err := logCall(ctx, s, s.caps.Features.ReleaseLog, "the release log (log.read)", protocol.CmdLogRead, &r, &r.Remote, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	if n, limit := len(out.Records), r.PageLimit(); n > limit {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdLogRead, "%d records for a page of %d", n, limit))
	}
	return &out, nil
}

// BlobsCheck asks whether the registry holds these pack blobs. The answer
// covers the first len(out.Blobs) blobs asked about, in order.
func (s *Session) BlobsCheck(ctx context.Context, req *protocol.BlobsCheckRequest) (*protocol.BlobsCheckResponse, error) {
	r := *req
	var out protocol.BlobsCheckResponse
	if err := logCall(ctx, s, s.caps.Features.ReleaseLog, "the release log (blobs.check)", protocol.CmdBlobsCheck, &r, &r.Remote, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	if len(out.Blobs) > len(r.Blobs) {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdBlobsCheck, "%d answers for %d blobs", len(out.Blobs), len(r.Blobs)))
	}
	for i, b := range out.Blobs {
		if b.Digest != r.Blobs[i].Digest || b.SizeBytes != r.Blobs[i].SizeBytes {
			return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdBlobsCheck, "answer %d is about %s, not %s", i, b.Digest, r.Blobs[i].Digest))
		}
	}
	return &out, nil
}

// GC asks the adapter to collect its registry's garbage (or, with DryRun,
// to say what it would remove).
func (s *Session) GC(ctx context.Context, req *protocol.GCRequest) (*protocol.GCResponse, error) {
	r := *req
	var out protocol.GCResponse
	if err := logCall(ctx, s, s.caps.Features.GC, "garbage collection (registry.gc)", protocol.CmdGC, &r, &r.Remote, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	return &out, nil
}

// Hold sets or clears the legal hold of a release.
func (s *Session) Hold(ctx context.Context, req *protocol.HoldRequest) (*protocol.HoldResponse, error) {
	r := *req
	var out protocol.HoldResponse
	if err := logCall(ctx, s, s.caps.Features.LegalHold, "legal holds (release.hold)", protocol.CmdHold, &r, &r.Remote, &r.RequestHeader, &out, &out.ResponseHeader); err != nil {
		return nil, err
	}
	if out.ReleaseID != r.ReleaseID || out.Hold != r.Hold {
		return nil, s.red.Error(protocolError(s.res.Adapter, protocol.CmdHold, "answered for release %s (hold %v), asked %s (hold %v)", out.ReleaseID, out.Hold, r.ReleaseID, r.Hold))
	}
	return &out, nil
}

// logCall checks the feature and the request, fills in Remote and runs cmd.
func logCall(ctx context.Context, s *Session, feature bool, what, cmd string, req interface{ Check() error }, remote *string, hdr *protocol.RequestHeader, out any, outHdr *protocol.ResponseHeader) error {
	if err := s.needFeature(feature, what); err != nil {
		return err
	}
	if *remote == "" {
		*remote = s.res.Remote
	}
	if err := req.Check(); err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "%s for remote %q", cmd, s.res.Remote)
	}
	return s.call(ctx, cmd, req, hdr, out, outHdr)
}
