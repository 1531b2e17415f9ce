package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// S3's multipart bounds.
const (
	// MinPartBytes is the smallest part but the last.
	MinPartBytes = 5 << 20
	// MaxPartBytes is the largest part.
	MaxPartBytes = 5 << 30
	// MaxParts is the most parts one upload has.
	MaxParts = 10000
	// MaxObjectBytes is the largest object S3 stores.
	MaxObjectBytes = 5 << 40
	// DefaultMultipartThreshold is the pack size from which pushes go in
	// parts when multipart_threshold is not set.
	DefaultMultipartThreshold = 64 << 20
	// partURLBatch is how many part targets one answer carries.
	partURLBatch = 100
)

// MultipartLimits are the limits the S3 adapter announces for a threshold
// (0: DefaultMultipartThreshold; never above MaxPackBytes, the largest
// single upload), a number of part targets per answer (0: 100) and whether
// parts carry Content-MD5 besides x-amz-checksum-sha256.
func MultipartLimits(threshold int64, partURLs int, partMD5 bool) *protocol.MultipartLimits {
	if threshold <= 0 {
		threshold = DefaultMultipartThreshold
	}
	if partURLs <= 0 || partURLs > protocol.MaxPartURLs {
		partURLs = partURLBatch
	}
	l := &protocol.MultipartLimits{
		ThresholdBytes: min(threshold, MaxPackBytes),
		MinPartBytes:   MinPartBytes,
		MaxPartBytes:   MaxPartBytes,
		MaxParts:       MaxParts,
		MaxPartURLs:    partURLs,
		PartChecksums:  []string{protocol.PartChecksumSHA256},
	}
	if partMD5 {
		l.PartChecksums = []string{protocol.PartChecksumMD5, protocol.PartChecksumSHA256}
	}
	return l
}

var _ registry.MultipartStore = (*Store)(nil)

// CreateMultipart starts a multipart upload straight to key (the blob's
// content address) with SHA-256 part checksums: the server then checks
// every part against the SHA-256 its target was signed with, and the
// completed object carries a composite SHA-256 of the parts. The blob's
// SHA-256 is recorded in the object's metadata as for a verified single
// upload: the object only comes to exist through CompleteMultipart, which
// checks it.
func (s *Store) CreateMultipart(ctx context.Context, key string, b registry.Blob) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.full(key)),
		ContentType:       aws.String("application/zip"),
		Metadata:          map[string]string{metaSHA256: b.SHA256Hex},
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumType:      types.ChecksumTypeComposite,
	})
	if err != nil {
		return "", s.mapErr(err, "starting a multipart upload to", key)
	}
	id := aws.ToString(out.UploadId)
	if err := protocol.CheckUploadID(id); err != nil {
		return "", fmt.Errorf("S3 answered an unusable upload id: %v", err)
	}
	return id, nil
}

// PartTargets presigns one UploadPart per part, signed with the part's
// Content-Length, x-amz-checksum-sha256 and Content-MD5 (when the part has
// an MD5): the headers the host computes and sends itself (over plain http
// too), so the server refuses any other bytes.
func (s *Store) PartTargets(ctx context.Context, key, uploadID string, parts []protocol.PartChecksum, expiry time.Duration) ([]protocol.PartTarget, error) {
	out := make([]protocol.PartTarget, 0, len(parts))
	for _, p := range parts {
		if p.PartNumber < 1 || p.PartNumber > MaxParts {
			return nil, fmt.Errorf("part number %d out of range", p.PartNumber)
		}
		in := &s3.UploadPartInput{
			Bucket:         aws.String(s.cfg.Bucket),
			Key:            aws.String(s.full(key)),
			UploadId:       aws.String(uploadID),
			PartNumber:     aws.Int32(int32(p.PartNumber)),
			ContentLength:  aws.Int64(p.SizeBytes),
			ChecksumSHA256: aws.String(p.SHA256),
		}
		if p.MD5 != "" {
			in.ContentMD5 = aws.String(p.MD5)
		}
		req, err := s.pre.PresignUploadPart(ctx, in, s3.WithPresignExpires(expiry))
		if err != nil {
			return nil, s.mapErr(err, "presign part of", key)
		}
		out = append(out, protocol.PartTarget{PartNumber: p.PartNumber, TransferTarget: target(&presignedRequest{req.URL, req.Method, req.SignedHeader}, expiry)})
	}
	return out, nil
}

// ListParts lists the parts the server holds (1,000 per request).
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]registry.StoredPart, error) {
	in := &s3.ListPartsInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key)), UploadId: aws.String(uploadID)}
	var out []registry.StoredPart
	for page := 0; page <= MaxParts/1000+1; page++ {
		res, err := s.client.ListParts(ctx, in)
		if err != nil {
			return nil, s.mapErr(err, "listing the parts of", key)
		}
		for _, p := range res.Parts {
			out = append(out, registry.StoredPart{
				Number: int(aws.ToInt32(p.PartNumber)),
				Size:   aws.ToInt64(p.Size),
				SHA256: aws.ToString(p.ChecksumSHA256),
				ETag:   aws.ToString(p.ETag),
			})
		}
		next := aws.ToString(res.NextPartNumberMarker)
		if !aws.ToBool(res.IsTruncated) || next == "" || next == aws.ToString(in.PartNumberMarker) {
			return out, nil
		}
		in.PartNumberMarker = aws.String(next)
	}
	return out, nil
}

// CompleteMultipart assembles the parts at key only if key holds nothing
// (If-None-Match: *, with the object size the server must arrive at), then
// checks what the server made: its size, the SHA-256 recorded in its
// metadata and its composite SHA-256, which must be the SHA-256 of want's
// part checksums in order. An object that fails is deleted.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []registry.StoredPart, want []protocol.PartChecksum, b registry.Blob) error {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag), ChecksumSHA256: aws.String(p.SHA256)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.full(key)),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		IfNoneMatch:     aws.String("*"),
		MpuObjectSize:   aws.Int64(b.Size),
	})
	if err != nil {
		err = s.mapErr(err, "completing the multipart upload of", key)
		var pe *protocol.Error
		switch {
		case errors.Is(err, registry.ErrConflict):
			return fmt.Errorf("%w: %s", registry.ErrExists, key)
		case errors.Is(err, registry.ErrNotFound):
			return err
		case errors.As(err, &pe) && pe.Code == protocol.CodeInvalidRequest:
			return fmt.Errorf("%w: %v", registry.ErrMismatch, err)
		}
		return err
	}
	if err := s.checkComposite(ctx, key, want, b); err != nil {
		if errors.Is(err, registry.ErrMismatch) {
			_ = s.Delete(ctx, key)
		}
		return err
	}
	return nil
}

// checkComposite checks a completed multipart object against the parts
// the host offered.
func (s *Store) checkComposite(ctx context.Context, key string, want []protocol.PartChecksum, b registry.Blob) error {
	out, err := s.headFull(ctx, key)
	if err != nil {
		return err
	}
	if n := aws.ToInt64(out.ContentLength); n != b.Size {
		return fmt.Errorf("%w: the assembled object is %d bytes, expected %d", registry.ErrMismatch, n, b.Size)
	}
	if got := out.Metadata[metaSHA256]; got != b.SHA256Hex {
		return fmt.Errorf("%w: the assembled object records sha256 %q, expected %s", registry.ErrMismatch, got, b.SHA256Hex)
	}
	exp, err := CompositeSHA256(want)
	if err != nil {
		return err
	}
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != exp && got+"-"+strconv.Itoa(len(want)) != exp {
		return fmt.Errorf("%w: composite SHA-256 %s of the assembled object differs from the offered parts' %s", registry.ErrMismatch, got, exp)
	}
	return nil
}

// CompositeSHA256 is S3's checksum of a multipart object made of parts:
// base64 of the SHA-256 of the parts' raw SHA-256s, then "-<part count>".
func CompositeSHA256(parts []protocol.PartChecksum) (string, error) {
	h := sha256.New()
	for _, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return "", fmt.Errorf("part %d: sha256 %q is not base64 of 32 bytes", p.PartNumber, p.SHA256)
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// AbortMultipart drops an upload and its parts.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key)), UploadId: aws.String(uploadID)})
	err = s.mapErr(err, "aborting the multipart upload of", key)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	return err
}
