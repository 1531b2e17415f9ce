package s3store_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/registry/s3store"
)

func TestMain(m *testing.M) { os.Exit(testenv.MainWithS3(m)) }

const testPrefix = "team/evidence"

func newStore(t testing.TB, env testenv.S3, bucket, prefix string) *s3store.Store {
	return newStoreMode(t, env, bucket, prefix, s3store.UploadHeadersSigned)
}

func newStoreMode(t testing.TB, env testenv.S3, bucket, prefix, mode string) *s3store.Store {
	t.Helper()
	s, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: env.Endpoint, PathStyle: true, UploadHeaders: mode},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// NewEnv makes a fresh bucket and an S3 registry in it below testPrefix.
func NewEnv(t *testing.T, mode string, adapter func(env testenv.S3, bucket string, s *s3store.Store) registrytest.Adapter) *registrytest.Env {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	s := newStoreMode(t, env, bucket, testPrefix, mode)
	client := env.Client()
	return &registrytest.Env{
		A:     adapter(env, bucket, s),
		Store: s,
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
			u, _ := url.Parse(tgt.URL)
			key := strings.TrimPrefix(u.Path, "/"+bucket+"/")
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
			if err != nil {
				t.Fatal(err)
			}
		},
		AllKeys: func(t testing.TB) []string {
			var keys []string
			p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page.Contents {
					keys = append(keys, aws.ToString(o.Key))
				}
			}
			return keys
		},
		Prefix:          testPrefix + "/",
		HeadersOverHTTP: mode == s3store.UploadHeadersSigned,
	}
}

// TestRegistryS3 runs the suite in both upload modes: signed headers (what
// an https endpoint gets) and none (plain http: finalize reads back).
func TestRegistryS3(t *testing.T) {
	for _, mode := range []string{s3store.UploadHeadersSigned, s3store.UploadHeadersNone} {
		t.Run(mode, func(t *testing.T) {
			registrytest.RunAll(t, func(t *testing.T) *registrytest.Env {
				return NewEnv(t, mode, func(_ testenv.S3, _ string, s *s3store.Store) registrytest.Adapter {
					return registry.New(s, registry.Options{Name: "s3"})
				})
			})
		})
	}
}

// TestConditionalWrites checks that the server really implements the
// preconditions the registry relies on (If-None-Match: *, If-Match).
func TestConditionalWrites(t *testing.T) {
	env := testenv.RequireS3(t)
	s := newStore(t, env, env.NewBucket(t), "")
	ctx := context.Background()
	if err := s.CreateIfAbsent(ctx, "a.json", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIfAbsent(ctx, "a.json", []byte("2")); err != registry.ErrExists {
		t.Fatalf("second create: %v", err)
	}
	_, info, err := s.Get(ctx, "a.json", 10)
	if err != nil {
		t.Fatal(err)
	}
	tag2, err := s.CompareAndSwap(ctx, "a.json", info.ETag, []byte("3"))
	if err != nil {
		t.Fatalf("CAS with current etag: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "a.json", info.ETag, []byte("4")); !errorsIs(err, registry.ErrConflict) {
		t.Fatalf("CAS with stale etag: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "a.json", "", []byte("5")); !errorsIs(err, registry.ErrConflict) {
		t.Fatalf("CAS create over existing: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "missing.json", tag2, []byte("6")); !errorsIs(err, registry.ErrConflict) {
		t.Fatalf("CAS on a missing object: %v", err)
	}
	data, _, _ := s.Get(ctx, "a.json", 10)
	if string(data) != "3" {
		t.Fatalf("content %q", data)
	}
}

// TestSignedUpload: with signed headers the PUT goes to the content
// address and the server refuses bytes that do not match the signed
// Content-MD5 / x-amz-checksum-sha256 before anything exists there.
func TestSignedUpload(t *testing.T) {
	env := testenv.RequireS3(t)
	s := newStore(t, env, env.NewBucket(t), "")
	ctx := context.Background()
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "signed")
	b := registry.Blob{Size: int64(len(p.Data)), SHA256Hex: p.FileHex, MD5Base64: p.Checksum}
	blobKey := "blobs/sha256/" + p.FileHex
	tgt, uploaded, err := s.UploadTarget(ctx, "staging/x.epack", blobKey, b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if uploaded != blobKey {
		t.Fatalf("signed upload lands at %s", uploaded)
	}
	for _, h := range []string{"Content-Md5", "X-Amz-Checksum-Sha256"} {
		if tgt.Headers[h] == "" {
			t.Fatalf("upload headers %v lack %s", tgt.Headers, h)
		}
	}
	bad := bytes.Clone(p.Data)
	bad[0] ^= 1
	if err := registrytest.UploadRaw(t, tgt, bad, true); err == nil {
		t.Fatal("wrong bytes accepted")
	}
	if _, err := s.Head(ctx, blobKey); !errorsIs(err, registry.ErrNotFound) {
		t.Fatalf("refused upload left an object: %v", err)
	}
	if err := registrytest.UploadRaw(t, tgt, p.Data, true); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if err := s.Promote(ctx, uploaded, blobKey, b); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.BlobMatches(ctx, blobKey, b); err != nil || !ok {
		t.Fatalf("BlobMatches = %v %v", ok, err)
	}
	// Unsigned mode: staging, read back, copied.
	s2 := newStoreMode(t, env, env.NewBucket(t), "", s3store.UploadHeadersNone)
	tgt, uploaded, err = s2.UploadTarget(ctx, "staging/y.epack", blobKey, b, time.Minute)
	if err != nil || uploaded != "staging/y.epack" || len(tgt.Headers) != 0 {
		t.Fatalf("unsigned target %+v %s %v", tgt, uploaded, err)
	}
	if err := registrytest.UploadRaw(t, tgt, p.Data, false); err != nil {
		t.Fatal(err)
	}
	if err := s2.Promote(ctx, uploaded, blobKey, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Head(ctx, uploaded); !errorsIs(err, registry.ErrNotFound) {
		t.Fatalf("staging object left behind: %v", err)
	}
	if ok, err := s2.BlobMatches(ctx, blobKey, b); err != nil || !ok {
		t.Fatalf("BlobMatches (unsigned) = %v %v", ok, err)
	}
	// Bytes that pass the size and MD5 checks (here: no MD5 to check) but
	// not SHA-256 are caught by the copy's checksum and removed again.
	other := registrytest.MakePack(t, t.TempDir(), "q.epack", "other")
	nomd5 := registry.Blob{Size: int64(len(other.Data)), SHA256Hex: other.FileHex}
	otherKey := "blobs/sha256/" + other.FileHex
	wrong := bytes.Clone(other.Data)
	wrong[3] ^= 1
	tgt, uploaded, _ = s2.UploadTarget(ctx, "staging/z.epack", otherKey, registry.Blob{Size: nomd5.Size, SHA256Hex: nomd5.SHA256Hex, MD5Base64: other.Checksum}, time.Minute)
	if err := registrytest.UploadRaw(t, tgt, wrong, false); err != nil {
		t.Fatal(err)
	}
	if err := s2.Promote(ctx, uploaded, otherKey, nomd5); !errorsIs(err, registry.ErrMismatch) {
		t.Fatalf("wrong SHA-256 promoted: %v", err)
	}
	for _, k := range []string{otherKey, uploaded} {
		if _, err := s2.Head(ctx, k); !errorsIs(err, registry.ErrNotFound) {
			t.Fatalf("%s left behind: %v", k, err)
		}
	}
}

func TestErrors(t *testing.T) {
	env := testenv.RequireS3(t)
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, "")
	_, err := s3store.New(ctx, s3store.Config{Bucket: "no-such-bucket-epack", Endpoint: env.Endpoint, PathStyle: true}, s3store.Options{Credentials: creds})
	if registry.CodeOf(err) != protocol.CodeNotFound || !strings.Contains(err.Error(), "no-such-bucket-epack") {
		t.Fatalf("missing bucket: %v", err)
	}
	bucket := env.NewBucket(t)
	_, err = s3store.New(ctx, s3store.Config{Bucket: bucket, Endpoint: env.Endpoint, PathStyle: true},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider(env.AccessKey, "wrong-secret", "")})
	if c := registry.CodeOf(err); c != protocol.CodeAuthRequired && c != protocol.CodeForbidden {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = s3store.New(ctx, s3store.Config{Bucket: bucket, Endpoint: env.Endpoint, PathStyle: true},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider("nobody", "wrong-secret", "")})
	if c := registry.CodeOf(err); c != protocol.CodeAuthRequired && c != protocol.CodeForbidden {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = s3store.New(ctx, s3store.Config{Bucket: bucket, Endpoint: "http://127.0.0.1:1", PathStyle: true}, s3store.Options{Credentials: creds})
	if c := registry.CodeOf(err); c != protocol.CodeNetworkError {
		t.Fatalf("unreachable endpoint: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	c, warn, err := s3store.ParseConfig(`{"bucket":"b-1","prefix":"/a/b/","region":"eu-west-1","endpoint":"http://127.0.0.1:9000","path_style":"true","presign_expiry":"1h","x":1}`)
	if err != nil || c.Prefix != "a/b" || !c.PathStyle || c.PresignExpiry != time.Hour || len(warn) != 1 {
		t.Fatalf("%+v %v %v", c, warn, err)
	}
	c, _, err = s3store.ParseConfig(`{"bucket":"bkt","presign_expiry":600}`)
	if err != nil || c.PresignExpiry != 10*time.Minute || c.Region != "" || !c.SignUploadHeaders() {
		t.Fatalf("%+v %v", c, err)
	}
	c, _, _ = s3store.ParseConfig(`{"bucket":"bkt","endpoint":"http://127.0.0.1:1"}`)
	if c.SignUploadHeaders() {
		t.Fatal("signed headers over plain http")
	}
	c, _, _ = s3store.ParseConfig(`{"bucket":"bkt","endpoint":"http://127.0.0.1:1","upload_headers":"signed"}`)
	if !c.SignUploadHeaders() {
		t.Fatal("upload_headers: signed ignored")
	}
	for _, raw := range []string{``, `{}`, `[]`, `{"bucket":""}`, `{"bucket":"b/c"}`, `{"bucket":"bkt","prefix":"a/../b"}`,
		`{"bucket":"bkt","endpoint":"ftp://x"}`, `{"bucket":"bkt","endpoint":"https://u:p@x"}`, `{"bucket":"bkt","presign_expiry":"1s"}`, `{"bucket":"bkt","path_style":"maybe"}`, `{"bucket":"bkt","upload_headers":"x"}`} {
		if _, _, err := s3store.ParseConfig(raw); registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Fatalf("%s: %v", raw, err)
		}
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
