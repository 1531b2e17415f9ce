package s3store_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/s3store"
)

// BenchmarkUpload compares, on the same S3 server and the same file:
//
//	plain    a presigned PUT with no extra signed headers (the floor)
//	registry the registry's upload target (Content-MD5, x-amz-checksum-sha256,
//	         If-None-Match: * — the server verifies MD5 and SHA-256)
//	finalize the registry's Promote of that upload
//
// in both upload modes: signed (https endpoints: the PUT goes to the content
// address and the server checks MD5 and SHA-256 while receiving; finalize is
// a HEAD) and none (plain http endpoints, where the host sends no adapter
// headers: the PUT goes to staging, finalize reads it back to hash it and
// copies it to the content address).
//
// and reports MB/s of each and registry/plain. The file is 256 MiB; set
// EPACK_BENCH_S3_BYTES for another size, e.g. the 1 GiB run:
//
//	EPACK_BENCH_S3_BYTES=1073741824 go test -run '^$' -bench BenchmarkUpload -benchtime 2x -timeout 30m ./registry/s3store
func BenchmarkUpload(b *testing.B) {
	for _, mode := range []string{s3store.UploadHeadersSigned, s3store.UploadHeadersNone} {
		b.Run(mode, func(b *testing.B) { benchUpload(b, mode) })
	}
}

func benchUpload(b *testing.B, mode string) {
	env := testenv.RequireS3(b)
	size := int64(256 << 20)
	if v := os.Getenv("EPACK_BENCH_S3_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("EPACK_BENCH_S3_BYTES=%q", v)
		}
		size = n
	}
	path := filepath.Join(b.TempDir(), "big.epack")
	sha, md := writeBig(b, path, size)
	bucket := env.NewBucket(b)
	s := newStoreMode(b, env, bucket, "", mode)
	ctx := context.Background()
	blob := registry.Blob{Size: size, SHA256Hex: sha, MD5Base64: md}

	var plainD, regD, finD time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// plain
		pre := s3.NewPresignClient(s.Client())
		p, err := pre.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("plain/%d", i))}, s3.WithPresignExpires(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		put(b, protocol.TransferTarget{Method: p.Method, URL: p.URL}, path, size, false)
		plainD += time.Since(t0)

		// registry upload target
		staging := fmt.Sprintf("staging/%d.epack", i)
		blobKey := fmt.Sprintf("blobs/sha256/%s-%d", sha, i)
		tgt, uploaded, err := s.UploadTarget(ctx, staging, blobKey, blob, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		put(b, tgt, path, size, mode == s3store.UploadHeadersSigned)
		regD += time.Since(t0)

		t0 = time.Now()
		if err := s.Promote(ctx, uploaded, blobKey, blob); err != nil {
			b.Fatal(err)
		}
		finD += time.Since(t0)

		b.StopTimer()
		for _, k := range []string{fmt.Sprintf("plain/%d", i), fmt.Sprintf("blobs/sha256/%s-%d", sha, i)} {
			_ = s.Delete(ctx, k)
		}
		b.StartTimer()
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(plainD), "plain-MB/s")
	b.ReportMetric(mbps(regD), "registry-MB/s")
	b.ReportMetric(mbps(finD), "finalize-MB/s")
	b.ReportMetric(regD.Seconds()/plainD.Seconds(), "registry/plain")
	b.ReportMetric((regD+finD).Seconds()/plainD.Seconds(), "upload+finalize/plain")
}

func put(b *testing.B, tgt protocol.TransferTarget, path string, size int64, headers bool) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	req, err := http.NewRequest(tgt.Method, tgt.URL, f)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = size
	if headers {
		for k, v := range tgt.Headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
}

// writeBig writes size pseudo-random bytes and returns their SHA-256 hex and base64 MD5.
func writeBig(b *testing.B, path string, size int64) (string, string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h, m := sha256.New(), md5.New()
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		r.Read(buf[:n])
		f.Write(buf[:n])
		h.Write(buf[:n])
		m.Write(buf[:n])
		left -= n
	}
	return hex.EncodeToString(h.Sum(nil)), base64.StdEncoding.EncodeToString(m.Sum(nil))
}
