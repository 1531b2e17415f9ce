package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// BenchmarkS3ServerFloor times what versitygw itself needs for the two ways
// a pack can reach it, without epack: one presigned PUT of the bytes, and a
// multipart upload as epack sends it (16 MiB parts, 4 at once, each signed
// with its x-amz-checksum-sha256) followed by CompleteMultipartUpload. It
// is the floor under BenchmarkS3PushPull: a multipart push cannot take
// less than the parts' upload plus the server's completion, which on the
// posix backend copies every part into the object on one core. Metrics:
// seconds and server CPU seconds of each phase, and parts+complete against
// the PUT. The size is EPACK_BENCH_S3_BYTES (default 256 MiB):
//
//	EPACK_BENCH_S3_BYTES=1073741824 go test -run '^$' -bench S3ServerFloor -benchtime 2x -timeout 30m ./internal/e2e
func BenchmarkS3ServerFloor(b *testing.B) {
	srv, size := benchServer(b)
	const partSize, parallel = 16 << 20, 4
	data := make([]byte, size)
	rand.Read(data)
	bucket := srv.NewBucket(b)
	client := srv.Client()
	presign := s3.NewPresignClient(client)
	httpc := srv.HTTPClient()
	ctx := context.Background()
	pid := serverPid(srv.Endpoint)

	put := func(key string, body []byte, h http.Header, url string) (string, error) {
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
		for k, v := range h {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		req.ContentLength = int64(len(body))
		resp, err := httpc.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("PUT %s: %s", key, resp.Status)
		}
		return resp.Header.Get("ETag"), nil
	}
	var plain, plainCPU, parts, partsCPU, complete, completeCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("plain/%d", i)
		p, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			b.Fatal(err)
		}
		c0, t0 := procCPU(pid), time.Now()
		if _, err := put(key, data, nil, p.URL); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(t0)
		plainCPU += procCPU(pid) - c0

		key = fmt.Sprintf("mp/%d", i)
		up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		})
		if err != nil {
			b.Fatal(err)
		}
		n := int((size + partSize - 1) / partSize)
		done := make([]types.CompletedPart, n)
		errs := make([]error, n)
		c0, t0 = procCPU(pid), time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, parallel)
		for j := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func(j int) {
				defer func() { <-sem; wg.Done() }()
				body := data[int64(j)*partSize : min(size, int64(j+1)*partSize)]
				sum := sha256.Sum256(body)
				cs := base64.StdEncoding.EncodeToString(sum[:])
				p, err := presign.PresignUploadPart(ctx, &s3.UploadPartInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(j + 1)), ChecksumSHA256: aws.String(cs),
				})
				if err != nil {
					errs[j] = err
					return
				}
				etag, err := put(key, body, p.SignedHeader, p.URL)
				errs[j] = err
				done[j] = types.CompletedPart{PartNumber: aws.Int32(int32(j + 1)), ETag: aws.String(etag), ChecksumSHA256: aws.String(cs)}
			}(j)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		parts += time.Since(t0)
		partsCPU += procCPU(pid) - c0
		c0, t0 = procCPU(pid), time.Now()
		if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		}); err != nil {
			b.Fatal(err)
		}
		complete += time.Since(t0)
		completeCPU += procCPU(pid) - c0
	}
	nd := time.Duration(b.N)
	b.ReportMetric((plain / nd).Seconds(), "plainPUT-s")
	b.ReportMetric((plainCPU / nd).Seconds(), "plainPUT-server-cpu-s")
	b.ReportMetric((parts / nd).Seconds(), "parts-s")
	b.ReportMetric((partsCPU / nd).Seconds(), "parts-server-cpu-s")
	b.ReportMetric((complete / nd).Seconds(), "complete-s")
	b.ReportMetric((completeCPU / nd).Seconds(), "complete-server-cpu-s")
	b.ReportMetric(float64(parts+complete)/float64(plain), "parts+complete/PUT")
}
