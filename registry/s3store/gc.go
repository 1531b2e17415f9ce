package s3store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/registry"
)

var _ registry.LeftoverStore = (*Store)(nil)

// uploadMark separates an object key from a multipart upload id in the
// keys Leftovers hands out.
const uploadMark = "#multipart-upload="

// Leftovers lists the incomplete multipart uploads below the store's
// prefix (what an interrupted multipart push leaves: S3 keeps the parts
// until the upload is aborted), with the size of their parts.
func (s *Store) Leftovers(ctx context.Context) ([]registry.Entry, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket)}
	if s.cfg.Prefix != "" {
		in.Prefix = aws.String(s.cfg.Prefix + "/")
	}
	var out []registry.Entry
	for pages := 0; pages < 1000; pages++ {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.mapErr(err, "list multipart uploads", "")
		}
		for _, u := range page.Uploads {
			key := aws.ToString(u.Key)
			if s.cfg.Prefix != "" {
				key = strings.TrimPrefix(key, s.cfg.Prefix+"/")
			}
			size := int64(0)
			parts, err := s.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(s.cfg.Bucket), Key: u.Key, UploadId: u.UploadId})
			if err == nil {
				for _, p := range parts.Parts {
					size += aws.ToInt64(p.Size)
				}
			}
			out = append(out, registry.Entry{Key: key + uploadMark + aws.ToString(u.UploadId), Info: registry.Info{Size: size, ModTime: aws.ToTime(u.Initiated)}})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	return out, nil
}

// RemoveLeftover aborts a multipart upload Leftovers listed.
func (s *Store) RemoveLeftover(ctx context.Context, key string) error {
	k, id, ok := strings.Cut(key, uploadMark)
	if !ok || k == "" || id == "" {
		return fmt.Errorf("s3store: %q is not an incomplete multipart upload", key)
	}
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(k)), UploadId: aws.String(id)})
	if err = s.mapErr(err, "abort multipart upload", k); err != nil && !errors.Is(err, registry.ErrNotFound) && !strings.Contains(err.Error(), "NoSuchUpload") {
		return err
	}
	return nil
}
