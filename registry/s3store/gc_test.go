package s3store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// TestGCAbortsIncompleteUploads: an interrupted multipart upload below the
// registry's prefix is listed by gc (with the size of its parts) and
// aborted; one outside the prefix is not touched.
func TestGCAbortsIncompleteUploads(t *testing.T) {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	s := newStore(t, env, bucket, testPrefix)
	client := env.Client()
	ctx := context.Background()
	start := func(key string) string {
		up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part one")), ContentLength: aws.Int64(8)}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(up.UploadId)
	}
	start(testPrefix + "/staging/abc.epack")
	outside := start("elsewhere/x.bin")
	r := registry.New(s, registry.Options{Name: "s3"})
	req := &protocol.GCRequest{DryRun: true}
	dry, err := r.GC(ctx, req)
	if err != nil || len(dry.Removed) != 1 || !strings.HasPrefix(dry.Removed[0].Key, "staging/abc.epack#") || dry.Removed[0].SizeBytes != 8 || dry.Removed[0].Kind != protocol.GCUpload {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	req.DryRun = false
	if done, err := r.GC(ctx, req); err != nil || len(done.Removed) != 1 {
		t.Fatalf("gc: %+v %v", done, err)
	}
	ups, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != outside {
		t.Fatalf("uploads left: %+v %v", ups, err)
	}
}
