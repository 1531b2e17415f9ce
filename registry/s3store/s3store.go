package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// MaxPackBytes is the largest pack a single presigned PUT (and a single
// server-side copy) can carry.
const MaxPackBytes = 5 << 30

// metaSHA256 is the user metadata key holding a verified blob's SHA-256 hex.
const metaSHA256 = "sha256"

// Store is a registry in an S3 bucket (below an optional key prefix).
type Store struct {
	cfg    Config
	client *s3.Client
	pre    *s3.PresignClient
	creds  aws.CredentialsProvider
	awsCfg aws.Config
}

var _ registry.Store = (*Store)(nil)

// Options adjust New (tests use them for explicit credentials).
type Options struct {
	// Credentials replaces the standard AWS credential chain when set.
	Credentials aws.CredentialsProvider
	// HTTPClient replaces the SDK's HTTP client when set.
	HTTPClient *http.Client
	// SkipBucketCheck skips the HeadBucket probe in New.
	SkipBucketCheck bool
}

// New connects to the bucket with the standard AWS credential chain (env,
// shared config/profile, SSO, IMDS…) and checks that the credentials work and
// the bucket exists, so every later error is about the operation itself.
func New(ctx context.Context, cfg Config, o Options) (*Store, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	loads := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		loads = append(loads, awsconfig.WithRegion(cfg.Region))
	}
	if o.Credentials != nil {
		loads = append(loads, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeAuthRequired, "loading AWS configuration: %v", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	client := s3.NewFromConfig(ac, func(so *s3.Options) {
		if cfg.Endpoint != "" {
			so.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		so.UsePathStyle = cfg.PathStyle
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
		// S3-compatible stores differ in their support of the newer default
		// integrity checksums; the registry verifies content itself.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &Store{cfg: cfg, client: client, pre: s3.NewPresignClient(client), creds: ac.Credentials, awsCfg: ac}
	if ac.Credentials == nil {
		return nil, protocol.Errorf(protocol.CodeAuthRequired, "no AWS credentials found: pass AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) through the remote's secrets:")
	}
	if _, err := ac.Credentials.Retrieve(ctx); err != nil {
		return nil, protocol.Errorf(protocol.CodeAuthRequired, "no usable AWS credentials (pass AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, through the remote's secrets:): %v", err)
	}
	if !o.SkipBucketCheck {
		if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
			// A HEAD answer has no body, so no error code: ask again with a
			// request whose error says what is wrong (missing bucket, unknown key…).
			_, lerr := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket), MaxKeys: aws.Int32(1)})
			if lerr != nil {
				err = lerr
			}
			return nil, s.mapErr(err, "bucket", "")
		}
	}
	return s, nil
}

// Client returns the underlying S3 client (tests and benchmarks use it).
func (s *Store) Client() *s3.Client { return s.client }

// Config returns the store's configuration.
func (s *Store) Config() Config { return s.cfg }

func (s *Store) full(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return s.cfg.Prefix + "/" + key
}

func (s *Store) location() string {
	loc := "s3://" + s.cfg.Bucket
	if s.cfg.Prefix != "" {
		loc += "/" + s.cfg.Prefix
	}
	if s.cfg.Endpoint != "" {
		loc += " at " + s.cfg.Endpoint
	}
	return loc
}

// mapErr turns an SDK error into a registry error with a protocol code.
// 404s become registry.ErrNotFound (or a clear not_found for a missing
// bucket), 412s registry.ErrConflict.
func (s *Store) mapErr(err error, op, key string) error {
	if err == nil {
		return nil
	}
	what := op
	if key != "" {
		what = op + " " + key
	}
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch code {
	case "NoSuchBucket":
		return protocol.Errorf(protocol.CodeNotFound, "bucket %q does not exist (%s)", s.cfg.Bucket, s.location())
	case "NoSuchKey":
		return fmt.Errorf("%w: %s", registry.ErrNotFound, what)
	case "PreconditionFailed", "ConditionalRequestConflict":
		return fmt.Errorf("%w: %s", registry.ErrConflict, what)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "InvalidSecurity", "XAdminUserNotFound":
		return protocol.Errorf(protocol.CodeAuthRequired, "S3 refused the credentials (%s) for %s: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE", code, s.location())
	case "RequestTimeTooSkewed":
		return protocol.Errorf(protocol.CodeAuthRequired, "S3 refused the request because this machine's clock differs too much from the server's (RequestTimeTooSkewed): synchronise the clock")
	case "AccessDenied", "AllAccessDisabled", "AccountProblem":
		return protocol.Errorf(protocol.CodeForbidden, "access denied to %s (%s): the credentials lack permission", s.location(), what)
	case "SlowDown", "TooManyRequests", "RequestLimitExceeded", "Throttling":
		return protocol.Errorf(protocol.CodeRateLimited, "S3 is throttling requests (%s); retry later", code)
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		return protocol.Errorf(protocol.CodeInvalidRequest, "bucket %q is not reachable with region %q (%s): set extensions.region", s.cfg.Bucket, s.awsCfg.Region, code)
	}
	switch {
	case status == http.StatusNotFound && op == "bucket":
		return protocol.Errorf(protocol.CodeNotFound, "bucket %q does not exist (%s)", s.cfg.Bucket, s.location())
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %s", registry.ErrNotFound, what)
	case status == http.StatusPreconditionFailed, status == http.StatusConflict:
		return fmt.Errorf("%w: %s", registry.ErrConflict, what)
	case status == http.StatusForbidden:
		return protocol.Errorf(protocol.CodeForbidden, "S3 refused %s with 403 Forbidden: check the credentials and their permissions on %s", what, s.location())
	case status == http.StatusMovedPermanently || status == http.StatusBadRequest && op == "bucket":
		return protocol.Errorf(protocol.CodeInvalidRequest, "bucket %q is not reachable with region %q: set extensions.region", s.cfg.Bucket, s.awsCfg.Region)
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && code == "":
		return protocol.Errorf(protocol.CodeRateLimited, "S3 %s: %v", what, err)
	case status >= 500:
		return protocol.Wrapf(protocol.CodeServerError, err, "S3 %s", what)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return protocol.Wrapf(protocol.CodeNetworkError, err, "S3 %s", what)
	}
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	if status == 0 && (errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &ue) || strings.Contains(err.Error(), "connection refused")) {
		return protocol.Wrapf(protocol.CodeNetworkError, err, "cannot reach S3 for %s", what)
	}
	if status >= 400 && status < 500 {
		return protocol.Wrapf(protocol.CodeInvalidRequest, err, "S3 %s", what)
	}
	return protocol.Wrapf(protocol.CodeServerError, err, "S3 %s", what)
}

func trimETag(e *string) string { return strings.Trim(aws.ToString(e), `"`) }

// Get reads a small object whole.
func (s *Store) Get(ctx context.Context, key string, max int64) ([]byte, registry.Info, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))})
	if err != nil {
		return nil, registry.Info{}, s.mapErr(err, "get", key)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > max {
		return nil, registry.Info{}, fmt.Errorf("object %s is %d bytes, limit %d", key, aws.ToInt64(out.ContentLength), max)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, registry.Info{}, s.mapErr(err, "get", key)
	}
	if int64(len(data)) > max {
		return nil, registry.Info{}, fmt.Errorf("object %s is larger than %d bytes", key, max)
	}
	return data, registry.Info{Size: int64(len(data)), ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Head returns an object's size, ETag and time.
func (s *Store) Head(ctx context.Context, key string) (registry.Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))})
	if err != nil {
		return registry.Info{}, s.mapErr(err, "head", key)
	}
	return registry.Info{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (s *Store) put(ctx context.Context, key string, data []byte, ifNoneMatch, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.full(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String("application/json"),
	}
	sum := md5.Sum(data)
	in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", s.mapErr(err, "put", key)
	}
	return aws.ToString(out.ETag), nil
}

// Put writes an object unconditionally (read into memory: registry objects are small).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return err
	}
	_, err = s.put(ctx, key, data, "", "")
	return err
}

// CreateIfAbsent is a PutObject with If-None-Match: *.
func (s *Store) CreateIfAbsent(ctx context.Context, key string, data []byte) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		_, err = s.put(ctx, key, data, "*", "")
		if !errors.Is(err, registry.ErrConflict) {
			return err
		}
		// 412: the object exists. 409: a concurrent conditional write is in
		// flight; look again shortly.
		if _, herr := s.Head(ctx, key); herr == nil {
			return registry.ErrExists
		}
		time.Sleep(time.Duration(5*(attempt+1)) * time.Millisecond)
	}
	return registry.ErrExists
}

// CompareAndSwap is a PutObject with If-Match: <etag> (If-None-Match: * for etag "").
func (s *Store) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	var (
		newTag string
		err    error
	)
	if etag == "" {
		newTag, err = s.put(ctx, key, data, "*", "")
	} else {
		newTag, err = s.put(ctx, key, data, "", etag)
	}
	if errors.Is(err, registry.ErrNotFound) {
		return "", registry.ErrConflict // deleted meanwhile
	}
	return newTag, err
}

// List lists keys under prefix.
func (s *Store) List(ctx context.Context, prefix string, limit int) ([]registry.Entry, error) {
	full := s.full(prefix)
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(full)})
	var out []registry.Entry
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.mapErr(err, "list", prefix)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if s.cfg.Prefix != "" {
				k = strings.TrimPrefix(k, s.cfg.Prefix+"/")
			}
			out = append(out, registry.Entry{Key: k, Info: registry.Info{Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), ModTime: aws.ToTime(o.LastModified)}})
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
		}
	}
	return out, nil
}

var _ registry.OrderedLister = (*Store)(nil)

// ListAfter lists keys under prefix that sort after after, in ascending
// order (ListObjectsV2 with StartAfter: S3 lists in UTF-8 byte order), at
// most limit of them: one request per 1,000 keys, however many follow.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, limit int) ([]registry.Entry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("s3store: ListAfter needs a positive limit")
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.full(prefix))}
	if after != "" {
		in.StartAfter = aws.String(s.full(after))
	}
	var out []registry.Entry
	for {
		in.MaxKeys = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, s.mapErr(err, "list", prefix)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if s.cfg.Prefix != "" {
				k = strings.TrimPrefix(k, s.cfg.Prefix+"/")
			}
			if k <= after {
				continue // a server that ignores StartAfter
			}
			out = append(out, registry.Entry{Key: k, Info: registry.Info{Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), ModTime: aws.ToTime(o.LastModified)}})
			if len(out) >= limit {
				return out, nil
			}
		}
		if !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextContinuationToken) == "" {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// Delete removes an object.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))})
	err = s.mapErr(err, "delete", key)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	return err
}

func target(p *presignedRequest, expiry time.Duration) protocol.TransferTarget {
	h := map[string]string{}
	for k, v := range p.SignedHeader {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length":
			continue
		}
		if len(v) > 0 {
			h[http.CanonicalHeaderKey(k)] = v[0]
		}
	}
	if len(h) == 0 {
		h = nil
	}
	return protocol.TransferTarget{Method: p.Method, URL: p.URL, Headers: h, ExpiresAt: time.Now().Add(expiry).UTC().Format(time.RFC3339)}
}

type presignedRequest struct {
	URL          string
	Method       string
	SignedHeader http.Header
}

// UploadTarget presigns a PUT of exactly b (the signature always covers
// Content-Length).
//
// With signed upload headers (https endpoints, AWS) the PUT goes straight to
// the blob's content address and is signed with Content-MD5 and
// x-amz-checksum-sha256, so the server refuses any other bytes before the
// object exists: finalize then only checks what the server recorded (no
// copy). If-None-Match is deliberately not signed there: several pushers of
// the same pack may upload at once, and each upload can only write the same
// verified bytes.
//
// Without signed headers (plain http endpoints, where the host sends none)
// the PUT goes to the one-time staging key; finalize reads it back to check
// MD5 and SHA-256 and only then copies it to the content address.
func (s *Store) UploadTarget(ctx context.Context, staging, blob string, b registry.Blob, expiry time.Duration) (protocol.TransferTarget, string, error) {
	raw, err := hex.DecodeString(b.SHA256Hex)
	if err != nil {
		return protocol.TransferTarget{}, "", err
	}
	key := staging
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		ContentLength: aws.Int64(b.Size),
	}
	if s.cfg.SignUploadHeaders() {
		key = blob
		if b.MD5Base64 != "" {
			in.ContentMD5 = aws.String(b.MD5Base64)
		}
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(raw))
	}
	in.Key = aws.String(s.full(key))
	p, err := s.pre.PresignPutObject(ctx, in, s3.WithPresignExpires(expiry))
	if err != nil {
		return protocol.TransferTarget{}, "", s.mapErr(err, "presign", key)
	}
	return target(&presignedRequest{p.URL, p.Method, p.SignedHeader}, expiry), key, nil
}

// DownloadTarget presigns a GET.
func (s *Store) DownloadTarget(ctx context.Context, key string, expiry time.Duration) (protocol.TransferTarget, error) {
	p, err := s.pre.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))}, s3.WithPresignExpires(expiry))
	if err != nil {
		return protocol.TransferTarget{}, s.mapErr(err, "presign", key)
	}
	return target(&presignedRequest{p.URL, p.Method, p.SignedHeader}, expiry), nil
}

func (s *Store) headFull(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.cfg.Bucket),
		Key:          aws.String(s.full(key)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return nil, s.mapErr(err, "head", key)
	}
	return out, nil
}

// BlobMatches: the blob exists with b's size and a SHA-256 the registry
// recorded after verifying it (metadata) or the server computed (checksum).
func (s *Store) BlobMatches(ctx context.Context, key string, b registry.Blob) (bool, error) {
	out, err := s.headFull(ctx, key)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if aws.ToInt64(out.ContentLength) != b.Size {
		return false, nil
	}
	if out.Metadata[metaSHA256] == b.SHA256Hex {
		return true, nil
	}
	if cs := aws.ToString(out.ChecksumSHA256); cs != "" && out.ChecksumType != types.ChecksumTypeComposite {
		return cs == b64hex(b.SHA256Hex), nil
	}
	return false, nil
}

func b64hex(h string) string {
	raw, _ := hex.DecodeString(h)
	return base64.StdEncoding.EncodeToString(raw)
}

// copyVerified copies the version etag of src to dst with the SHA-256
// recorded in metadata, asking the server to compute the copy's SHA-256. It
// returns that checksum (base64; "" when the server computes none).
func (s *Store) copyVerified(ctx context.Context, src, dst, etag string, b registry.Blob) (string, error) {
	source := (&url.URL{Path: s.cfg.Bucket + "/" + s.full(src)}).EscapedPath()
	out, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.full(dst)),
		CopySource:        aws.String(source),
		CopySourceIfMatch: aws.String(etag),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String("application/zip"),
		Metadata:          map[string]string{metaSHA256: b.SHA256Hex},
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return "", s.mapErr(err, "copy to", dst)
	}
	if r := out.CopyObjectResult; r != nil && r.ChecksumType != types.ChecksumTypeComposite {
		return aws.ToString(r.ChecksumSHA256), nil
	}
	return "", nil
}

// head checks size and MD5 (ETag) of the object at key and returns its ETag
// and server SHA-256 checksum ("" when none).
func (s *Store) head(ctx context.Context, key string, b registry.Blob) (string, string, error) {
	out, err := s.headFull(ctx, key)
	if err != nil {
		return "", "", err
	}
	etag := aws.ToString(out.ETag)
	if n := aws.ToInt64(out.ContentLength); n != b.Size {
		return "", "", fmt.Errorf("%w: %d bytes arrived, expected %d", registry.ErrMismatch, n, b.Size)
	}
	// The ETag of a single PUT is the MD5 of the bytes — except with SSE-KMS
	// or SSE-C, where it is not; SHA-256 is checked below either way.
	md5ETag := out.SSECustomerAlgorithm == nil && out.ServerSideEncryption != types.ServerSideEncryptionAwsKms && out.ServerSideEncryption != types.ServerSideEncryptionAwsKmsDsse
	if b.MD5Base64 != "" && md5ETag {
		if raw, err := base64.StdEncoding.DecodeString(b.MD5Base64); err == nil {
			if t := strings.Trim(etag, `"`); len(t) == 32 && !strings.EqualFold(t, hex.EncodeToString(raw)) {
				return "", "", fmt.Errorf("%w: MD5 %s arrived, expected %s", registry.ErrMismatch, t, hex.EncodeToString(raw))
			}
		}
	}
	cs := ""
	if out.ChecksumType != types.ChecksumTypeComposite {
		cs = aws.ToString(out.ChecksumSHA256)
	}
	return etag, cs, nil
}

// Promote checks the upload at uploaded and makes it the blob at key. Size
// and MD5 (the ETag of a single PUT) are checked by HEAD; SHA-256 by the
// server's checksum when there is one, otherwise by reading the object back.
//
// An upload that went straight to key (signed headers: the server already
// refused other bytes) is checked in place and deleted when wrong. A staged
// upload is copied to key — only the checked version
// (x-amz-copy-source-if-match), with the server computing the copy's
// SHA-256 in the same pass — unless key already holds b; a copy whose
// SHA-256 is wrong is deleted again, and the staging object is removed.
func (s *Store) Promote(ctx context.Context, uploaded, key string, b registry.Blob) error {
	want := b64hex(b.SHA256Hex)
	fail := func(k string, err error) error {
		if errors.Is(err, registry.ErrMismatch) {
			_ = s.Delete(ctx, k)
		}
		return err
	}
	etag, cs, err := s.head(ctx, uploaded, b)
	if err != nil {
		return fail(uploaded, err)
	}
	if cs != "" && cs != want {
		return fail(uploaded, fmt.Errorf("%w: SHA-256 (server checksum) differs from sha256:%s", registry.ErrMismatch, b.SHA256Hex))
	}
	if uploaded == key {
		if cs != "" {
			return nil
		}
		if err := s.readBack(ctx, key, etag, b); err != nil {
			return fail(key, err)
		}
		// Record the SHA-256 we computed so BlobMatches can trust it later.
		_, err := s.copyVerified(ctx, key, key, etag, b)
		return err
	}
	if ok, err := s.BlobMatches(ctx, key, b); err != nil {
		return err
	} else if !ok {
		got, err := s.copyVerified(ctx, uploaded, key, etag, b)
		if err != nil {
			return err
		}
		if cs == "" {
			// The upload carried no server checksum: the copy's checksum is
			// the SHA-256 check (one server-side pass instead of a read-back
			// plus a copy). Until it is checked, the blob holds bytes whose
			// size and MD5 are right — wrong bytes there need a deliberate MD5
			// collision — and wrong bytes are deleted again.
			switch {
			case got == "":
				err = s.readBack(ctx, key, "", b)
			case got != want:
				err = fmt.Errorf("%w: SHA-256 (server checksum of the copy) differs from sha256:%s", registry.ErrMismatch, b.SHA256Hex)
			}
			if err != nil {
				_ = s.Delete(ctx, uploaded)
				return fail(key, err)
			}
		}
	}
	return s.Delete(ctx, uploaded)
}

// readBack hashes the object (version etag) and compares it with b.
func (s *Store) readBack(ctx context.Context, key, etag string, b registry.Blob) error {
	sum, n, err := s.hashObject(ctx, key, etag)
	if err != nil {
		return err
	}
	if n != b.Size || sum != b.SHA256Hex {
		return fmt.Errorf("%w: sha256:%s arrived, expected sha256:%s", registry.ErrMismatch, sum, b.SHA256Hex)
	}
	return nil
}

// hashObject reads an object back (only version etag, when given) and
// returns its SHA-256.
func (s *Store) hashObject(ctx context.Context, key, etag string) (string, int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return "", 0, s.mapErr(err, "get", key)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return "", 0, s.mapErr(err, "get", key)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Whoami reports the caller (the role/user ARN from STS GetCallerIdentity
// on AWS; the access key id for custom endpoints or when STS is not
// reachable) and the bucket/prefix.
func (s *Store) Whoami(ctx context.Context) (string, string, error) {
	if err := s.Preflight(ctx); err != nil {
		return "", "", err
	}
	c, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", "", protocol.Errorf(protocol.CodeAuthRequired, "no usable AWS credentials: %v", err)
	}
	subject := "access key " + c.AccessKeyID
	if s.cfg.Endpoint == "" {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := sts.NewFromConfig(s.awsCfg).GetCallerIdentity(sctx, &sts.GetCallerIdentityInput{}); err == nil && out.Arn != nil {
			subject = aws.ToString(out.Arn)
		}
	}
	return subject, s.location() + s.lockDescription(), nil
}
