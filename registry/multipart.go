package registry

import (
	"context"
	"errors"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// MultipartStore is implemented by a store that takes a pack in parts
// (S3's multipart upload). The registry offers multipart uploads only over
// such a store, and only when Options.Multipart is set.
type MultipartStore interface {
	// CreateMultipart starts an upload of blob b to key and returns its id.
	// The parts must carry SHA-256 checksums the store verifies on receipt.
	CreateMultipart(ctx context.Context, key string, b Blob) (string, error)
	// PartTargets hands out upload targets for parts (with the checksums
	// the host computed, which the store then insists on).
	PartTargets(ctx context.Context, key, uploadID string, parts []protocol.PartChecksum, expiry time.Duration) ([]protocol.PartTarget, error)
	// ListParts returns the parts the store holds for the upload, in order;
	// ErrNotFound when the upload does not exist (any more).
	ListParts(ctx context.Context, key, uploadID string) ([]StoredPart, error)
	// CompleteMultipart assembles parts (as ListParts returned them) into
	// the blob at key, only if key holds nothing yet (ErrExists otherwise),
	// then checks the whole object against b and want: its size, and that
	// it is made of exactly want's parts with their SHA-256s (ErrMismatch,
	// and the object is removed, otherwise). ErrNotFound when the upload
	// does not exist.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []StoredPart, want []protocol.PartChecksum, b Blob) error
	// AbortMultipart drops an upload and its parts; a missing one is fine.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// StoredPart is a part a store holds.
type StoredPart struct {
	Number int
	Size   int64
	SHA256 string // base64, as the store reports it ("" when it has none)
	ETag   string
}

// stagingMultipart is the multipart upload a push.prepare record binds.
type stagingMultipart struct {
	UploadID string                  `json:"upload_id"`
	PartSize int64                   `json:"part_size"`
	Parts    []protocol.PartChecksum `json:"parts"`
}

// multipartStore returns the store as a MultipartStore when the registry
// offers multipart uploads.
func (r *Registry) multipartStore() (MultipartStore, *protocol.MultipartLimits, bool) {
	ms, ok := r.store.(MultipartStore)
	if !ok || r.opt.Multipart == nil {
		return nil, nil, false
	}
	return ms, r.opt.Multipart, true
}

// prepareMultipart decides, for a push.prepare that found no stored blob,
// whether the pack goes in parts: only when the host offered it, the store
// can, and the pack reaches the threshold — or is too big for a single
// upload, which is then refused without an offer. It starts the upload (or
// continues the one the offer names) and returns the answer's multipart
// object (nil: a single upload); rec is updated to bind the upload to the finalize token.
func (r *Registry) prepareMultipart(ctx context.Context, req *protocol.PushPrepareRequest, rec *stagingRecord) (*protocol.MultipartUpload, error) {
	ms, lim, ok := r.multipartStore()
	offer := req.Multipart
	single := r.opt.MaxSingleBytes
	if !ok || offer == nil {
		if single > 0 && rec.SizeBytes > single {
			return nil, invalid("pack is %d bytes; a single upload to this registry takes at most %d: larger packs go in parts, with a host that supports multipart uploads (features.multipart_upload; epack does)", rec.SizeBytes, single)
		}
		return nil, nil
	}
	if rec.SizeBytes < lim.ThresholdBytes && (single <= 0 || rec.SizeBytes <= single) {
		return nil, nil
	}
	if err := offer.Check(rec.SizeBytes); err != nil {
		return nil, invalid("invalid multipart offer: %v", err)
	}
	if err := lim.CheckPartSize(offer.PartSize, rec.SizeBytes); err != nil {
		return nil, invalid("invalid multipart offer: %v", err)
	}
	if lim.WantsPartMD5() && offer.Parts[0].MD5 == "" {
		return nil, invalid("invalid multipart offer: this registry checks every part's MD5 (part_checksums), and the offer has none")
	}
	key := blobKey(rec.FileHex)
	uploadID, stored, resumed, err := r.resumeMultipart(ctx, ms, offer, rec, key)
	if err != nil {
		return nil, err
	}
	if !resumed {
		if uploadID, err = ms.CreateMultipart(ctx, key, rec.blob()); err != nil {
			return nil, storeErr(err, "starting the multipart upload")
		}
	}
	rec.UploadKey = key
	rec.Multipart = &stagingMultipart{UploadID: uploadID, PartSize: offer.PartSize, Parts: offer.Parts}
	uploaded := matchingParts(stored, offer.Parts)
	have := make(map[int]bool, len(uploaded))
	for _, u := range uploaded {
		have[u.PartNumber] = true
	}
	var next []protocol.PartChecksum
	for _, p := range offer.Parts {
		if !have[p.PartNumber] && len(next) < lim.URLBatch() {
			next = append(next, p)
		}
	}
	var targets []protocol.PartTarget
	if len(next) > 0 {
		if targets, err = ms.PartTargets(ctx, key, uploadID, next, r.opt.PresignExpiry); err != nil {
			return nil, storeErr(err, "preparing part upload targets")
		}
	}
	return &protocol.MultipartUpload{
		UploadID: uploadID, PartSize: offer.PartSize, PartCount: len(offer.Parts),
		Resumed: resumed, Uploaded: uploaded, Parts: targets,
	}, nil
}

// resumeMultipart continues the upload an offer names when its record (the
// finalize token of the interrupted push) binds it to the same pack, target,
// part size and parts, and the store still has it. A token or upload the
// registry does not know is not an error: the push starts a new upload.
func (r *Registry) resumeMultipart(ctx context.Context, ms MultipartStore, offer *protocol.MultipartOffer, rec *stagingRecord, key string) (string, []StoredPart, bool, error) {
	res := offer.Resume
	if res == nil || !validToken(res.FinalizeToken) {
		return "", nil, false, nil
	}
	var old stagingRecord
	if _, err := r.getJSON(ctx, stagingRecordKey(res.FinalizeToken), &old); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", nil, false, nil
		}
		return "", nil, false, storeErr(err, "reading the interrupted push's record")
	}
	m := old.Multipart
	if m == nil || m.UploadID != res.UploadID || old.FileHex != rec.FileHex || old.SizeBytes != rec.SizeBytes ||
		old.Target != rec.Target || m.PartSize != offer.PartSize || !sameParts(m.Parts, offer.Parts) {
		return "", nil, false, nil
	}
	stored, err := ms.ListParts(ctx, key, m.UploadID)
	if errors.Is(err, ErrNotFound) {
		return "", nil, false, nil // the store forgot it (aborted, expired): start over
	}
	if err != nil {
		return "", nil, false, storeErr(err, "listing the parts of the interrupted upload")
	}
	// The new record takes the upload over; the old token is spent.
	_ = r.store.Delete(ctx, stagingRecordKey(res.FinalizeToken))
	return m.UploadID, stored, true, nil
}

func sameParts(a, b []protocol.PartChecksum) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// matchingParts returns the stored parts that hold exactly the part the
// host offered (size and SHA-256).
func matchingParts(stored []StoredPart, want []protocol.PartChecksum) []protocol.UploadedPart {
	var out []protocol.UploadedPart
	for _, s := range stored {
		if s.Number < 1 || s.Number > len(want) {
			continue
		}
		w := want[s.Number-1]
		if s.Size == w.SizeBytes && s.SHA256 == w.SHA256 {
			out = append(out, protocol.UploadedPart{PartNumber: s.Number, SizeBytes: s.Size, SHA256: s.SHA256})
		}
	}
	return out
}

// PushParts answers push.parts: upload targets for more parts of the
// multipart upload a finalize token binds, and optionally the parts the
// store holds.
func (r *Registry) PushParts(ctx context.Context, req *protocol.PushPartsRequest) (*protocol.PushPartsResponse, error) {
	ms, lim, ok := r.multipartStore()
	if !ok {
		return nil, protocol.Errorf(protocol.CodeUnsupportedProtocol, "this registry does not take multipart uploads")
	}
	if !validToken(req.FinalizeToken) {
		return nil, invalid("finalize_token is missing or malformed; run push.prepare first")
	}
	var rec stagingRecord
	if _, err := r.getJSON(ctx, stagingRecordKey(req.FinalizeToken), &rec); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, invalid("unknown or expired finalize_token; run the push again")
		}
		return nil, storeErr(err, "reading the push record")
	}
	m := rec.Multipart
	if m == nil {
		return nil, invalid("this push is not a multipart upload")
	}
	if req.UploadID != m.UploadID {
		return nil, invalid("upload_id does not belong to this push (its finalize_token binds another upload)")
	}
	if req.Target != rec.Target {
		return nil, invalid("target %+v differs from the target of push.prepare %+v", req.Target, rec.Target)
	}
	if len(req.PartNumbers) > lim.URLBatch() {
		return nil, invalid("%d part targets asked for at once; this registry hands out at most %d", len(req.PartNumbers), lim.URLBatch())
	}
	parts := make([]protocol.PartChecksum, 0, len(req.PartNumbers))
	for _, n := range req.PartNumbers {
		if n < 1 || n > len(m.Parts) {
			return nil, invalid("part %d is out of 1..%d", n, len(m.Parts))
		}
		parts = append(parts, m.Parts[n-1])
	}
	resp := &protocol.PushPartsResponse{Parts: []protocol.PartTarget{}}
	if len(parts) > 0 {
		t, err := ms.PartTargets(ctx, rec.UploadKey, m.UploadID, parts, r.opt.PresignExpiry)
		if err != nil {
			return nil, storeErr(err, "preparing part upload targets")
		}
		resp.Parts = t
	}
	if req.ListUploaded {
		stored, err := ms.ListParts(ctx, rec.UploadKey, m.UploadID)
		if errors.Is(err, ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "the multipart upload no longer exists; run the push again")
		}
		if err != nil {
			return nil, storeErr(err, "listing uploaded parts")
		}
		resp.Uploaded = matchingParts(stored, m.Parts)
	}
	return resp, nil
}

// finishMultipart completes the upload rec binds and checks the whole
// object before push.finalize publishes anything: every offered part must
// have arrived with its size and SHA-256, and the assembled object must
// have the pack's size and be made of exactly those parts. A retried
// finalize, or a concurrent push of the same pack that completed first,
// finds the blob already stored and verified.
func (r *Registry) finishMultipart(ctx context.Context, rec *stagingRecord, key string) error {
	ms, ok := r.store.(MultipartStore)
	m := rec.Multipart
	if !ok {
		return protocol.Errorf(protocol.CodeServerError, "the push record names a multipart upload but this store takes none")
	}
	blob := rec.blob()
	stored, err := ms.ListParts(ctx, key, m.UploadID)
	if errors.Is(err, ErrNotFound) {
		if have, herr := r.store.BlobMatches(ctx, key, blob); herr != nil {
			return storeErr(herr, "checking the pack blob")
		} else if have {
			return nil
		}
		return protocol.Errorf(protocol.CodeNotFound, "the multipart upload no longer exists and the pack is not stored; run the push again")
	}
	if err != nil {
		return storeErr(err, "listing uploaded parts")
	}
	byNumber := make(map[int]StoredPart, len(stored))
	for _, s := range stored {
		byNumber[s.Number] = s
	}
	var use []StoredPart
	for _, w := range m.Parts {
		s, ok := byNumber[w.PartNumber]
		if !ok {
			return invalid("part %d of %d was not uploaded (%d parts arrived); nothing was published", w.PartNumber, len(m.Parts), len(stored))
		}
		if s.Size != w.SizeBytes || s.SHA256 != w.SHA256 {
			return invalid("part %d holds other bytes than offered (size %d, sha256 %q; offered %d, %q); nothing was published", w.PartNumber, s.Size, s.SHA256, w.SizeBytes, w.SHA256)
		}
		use = append(use, s)
	}
	err = ms.CompleteMultipart(ctx, key, m.UploadID, use, m.Parts, blob)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrExists):
		// Another push of the same pack stored the blob first.
		have, herr := r.store.BlobMatches(ctx, key, blob)
		if herr != nil {
			return storeErr(herr, "checking the pack blob")
		}
		if !have {
			return protocol.Errorf(protocol.CodeConflict, "the pack's content address holds an object that is not this pack; nothing was published")
		}
		_ = ms.AbortMultipart(ctx, key, m.UploadID)
		return nil
	case errors.Is(err, ErrNotFound):
		if have, herr := r.store.BlobMatches(ctx, key, blob); herr == nil && have {
			return nil
		}
		return protocol.Errorf(protocol.CodeNotFound, "the multipart upload no longer exists; run the push again")
	case errors.Is(err, ErrMismatch):
		return protocol.Wrapf(protocol.CodeInvalidRequest, err, "uploaded bytes refused, nothing was published")
	}
	return storeErr(err, "completing the multipart upload")
}
