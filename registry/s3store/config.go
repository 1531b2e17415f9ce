package s3store

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Config is the S3 registry's configuration: the remote's `extensions` map
// from epack.yaml, passed by the host as EPACK_REMOTE_CONFIG.
type Config struct {
	// Bucket is required.
	Bucket string
	// Prefix is a key prefix inside the bucket ("" = the whole bucket).
	Prefix string
	// Region defaults to AWS_REGION / the profile's region, else us-east-1.
	Region string
	// Endpoint overrides the S3 endpoint for S3-compatible stores
	// (versitygw, MinIO, Ceph RGW, R2…), e.g. "https://s3.example.com".
	Endpoint string
	// PathStyle addresses buckets as <endpoint>/<bucket> (most S3-compatible stores need it).
	PathStyle bool
	// PresignExpiry is the lifetime of upload/download URLs (default 15m, max 7 days).
	PresignExpiry time.Duration
	// UploadHeaders chooses how uploads are checked: "signed" presigns the
	// PUT with Content-MD5, x-amz-checksum-sha256 and If-None-Match: * (the
	// server refuses other bytes); "none" presigns only the URL and
	// Content-Length, and finalize reads the object back to check MD5 and
	// SHA-256 — needed over plain http, where the epack host never sends an
	// adapter's headers. "" / "auto": signed for https endpoints (and AWS),
	// none for http endpoints.
	UploadHeaders string
	// MultipartThreshold is the pack size from which a host that supports
	// it sends the pack in parts (0: DefaultMultipartThreshold). Packs over
	// MaxPackBytes (5 GiB, a single PUT's limit) always go in parts.
	MultipartThreshold int64
	// MultipartPartURLs is how many part upload targets one answer hands
	// out (0: 100; at most protocol.MaxPartURLs); the host asks push.parts
	// for the rest.
	MultipartPartURLs int
	// MultipartNoPartMD5 leaves Content-MD5 out of part uploads
	// (multipart_part_md5: false): the parts are then checked by
	// x-amz-checksum-sha256 alone, which the store must enforce (AWS S3 and
	// versitygw do), saving the host and the store an MD5 pass.
	MultipartNoPartMD5 bool
	// ObjectLock, when set, writes records and blobs write-once with S3
	// Object Lock retention (objectlock.go).
	ObjectLock *ObjectLock
}

// Upload header modes.
const (
	UploadHeadersAuto   = "auto"
	UploadHeadersSigned = "signed"
	UploadHeadersNone   = "none"
)

// SignUploadHeaders reports whether upload targets carry signed headers.
func (c Config) SignUploadHeaders() bool {
	switch c.UploadHeaders {
	case UploadHeadersSigned:
		return true
	case UploadHeadersNone:
		return false
	}
	return !strings.HasPrefix(strings.ToLower(c.Endpoint), "http://")
}

// DefaultPresignExpiry is used when presign_expiry is not set.
const DefaultPresignExpiry = 15 * time.Minute

// ParseConfig reads EPACK_REMOTE_CONFIG. Accepted keys: bucket (required),
// prefix, region, endpoint, path_style (bool or "true"/"false"),
// presign_expiry (Go duration string like "15m", or seconds as a number),
// upload_headers ("auto", "signed", "none"; see Config.UploadHeaders),
// multipart_threshold (bytes, as a number or "64MiB"-style text),
// multipart_part_urls (part targets per answer, 1..1000),
// multipart_part_md5 (bool, default true; see Config.MultipartNoPartMD5),
// object_lock ({mode: GOVERNANCE|COMPLIANCE, retain: 7y}; objectlock.go).
// Unknown keys are reported in the returned warnings, not refused.
func ParseConfig(raw string) (Config, []string, error) {
	c, warnings, err := parseJSONConfig(raw)
	if err != nil {
		return c, nil, err
	}
	return c, warnings, c.normalize()
}

// parseJSONConfig reads EPACK_REMOTE_CONFIG without defaults or checks.
func parseJSONConfig(raw string) (Config, []string, error) {
	var c Config
	if strings.TrimSpace(raw) == "" {
		raw = "{}"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return c, nil, bad("EPACK_REMOTE_CONFIG is not a JSON object: %v", err)
	}
	var warnings []string
	str := func(k string) (string, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", bad("%s must be a string", k)
		}
		return strings.TrimSpace(s), nil
	}
	var err error
	if c.Bucket, err = str("bucket"); err != nil {
		return c, nil, err
	}
	if c.Prefix, err = str("prefix"); err != nil {
		return c, nil, err
	}
	if c.Region, err = str("region"); err != nil {
		return c, nil, err
	}
	if c.Endpoint, err = str("endpoint"); err != nil {
		return c, nil, err
	}
	if c.UploadHeaders, err = str("upload_headers"); err != nil {
		return c, nil, err
	}
	switch v := m["path_style"].(type) {
	case nil:
	case bool:
		c.PathStyle = v
	case string:
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return c, nil, bad("path_style %q is not a boolean", v)
		}
		c.PathStyle = b
	default:
		return c, nil, bad("path_style must be a boolean")
	}
	if c.MultipartThreshold, err = parseBytes(m["multipart_threshold"]); err != nil {
		return c, nil, bad("multipart_threshold: %v", err)
	}
	urls, err := parseBytes(m["multipart_part_urls"])
	if err != nil || urls > protocol.MaxPartURLs {
		return c, nil, bad("multipart_part_urls must be a number from 1 to %d", protocol.MaxPartURLs)
	}
	c.MultipartPartURLs = int(urls)
	if md5, err := parseBool(m["multipart_part_md5"]); err != nil {
		return c, nil, bad("multipart_part_md5 must be a boolean")
	} else if md5 != nil {
		c.MultipartNoPartMD5 = !*md5
	}
	if c.ObjectLock, err = parseObjectLock(m["object_lock"]); err != nil {
		return c, nil, err
	}
	switch v := m["presign_expiry"].(type) {
	case nil:
	case string:
		d, perr := time.ParseDuration(v)
		if perr != nil {
			return c, nil, bad("presign_expiry %q is not a duration like \"15m\"", v)
		}
		c.PresignExpiry = d
	case float64:
		c.PresignExpiry = time.Duration(v * float64(time.Second))
	default:
		return c, nil, bad("presign_expiry must be a duration string or a number of seconds")
	}
	for k := range m {
		switch k {
		case "bucket", "prefix", "region", "endpoint", "path_style", "presign_expiry", "upload_headers", "multipart_threshold", "multipart_part_urls", "multipart_part_md5", "object_lock":
		default:
			warnings = append(warnings, fmt.Sprintf("unknown S3 registry setting %q ignored", k))
		}
	}
	return c, warnings, nil
}

func (c *Config) normalize() error {
	if c.Bucket == "" {
		return bad("the S3 registry needs a bucket: set extensions.bucket in the remote's epack.yaml entry, "+
			"or, under a host that does not send EPACK_REMOTE_CONFIG, set %s=%s and list it in the remote's secrets:", EnvRegistryURL, registryURLForm)
	}
	if len(c.Bucket) < 3 || len(c.Bucket) > 63 || strings.ContainsAny(c.Bucket, "/\\ \x00") {
		return bad("bucket %q is not a valid bucket name", c.Bucket)
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Prefix != "" {
		if len(c.Prefix) > 512 {
			return bad("prefix is too long")
		}
		for _, seg := range strings.Split(c.Prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return bad("prefix %q has an empty, \".\" or \"..\" segment", c.Prefix)
			}
			for _, r := range seg {
				if r < 0x20 || r == 0x7f || r == '\\' {
					return bad("prefix %q contains a control character or backslash", c.Prefix)
				}
			}
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("endpoint %q must be an http(s) URL", c.Endpoint)
		}
		if u.User != nil {
			return bad("endpoint must not contain credentials; use secrets: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
		}
	}
	switch c.UploadHeaders {
	case "", UploadHeadersAuto, UploadHeadersSigned, UploadHeadersNone:
	default:
		return bad("upload_headers %q must be auto, signed or none", c.UploadHeaders)
	}
	if c.PresignExpiry == 0 {
		c.PresignExpiry = DefaultPresignExpiry
	}
	if c.PresignExpiry < time.Minute || c.PresignExpiry > 7*24*time.Hour {
		return bad("presign_expiry %s must be between 1m and 168h", c.PresignExpiry)
	}
	return nil
}

func bad(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeInvalidRequest, format, args...)
}

// parseBytes reads a byte count: a whole JSON number, or text of digits
// with an optional KiB, MiB, GiB or TiB unit ("64MiB"). nil is 0.
func parseBytes(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if x < 0 || x != float64(int64(x)) || x > 1<<53 {
			return 0, fmt.Errorf("%v is not a whole number of bytes", x)
		}
		return int64(x), nil
	case string:
		s := strings.TrimSpace(x)
		mult := int64(1)
		for _, u := range []struct {
			suffix string
			n      int64
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
			if rest, ok := strings.CutSuffix(s, u.suffix); ok {
				s, mult = strings.TrimSpace(rest), u.n
				break
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > (1<<53)/mult {
			return 0, fmt.Errorf("%q is not a byte count like 67108864 or \"64MiB\"", x)
		}
		return n * mult, nil
	}
	return 0, fmt.Errorf("must be a number of bytes or text like \"64MiB\"")
}

// MultipartOf reads multipart_threshold, multipart_part_urls and
// multipart_part_md5 from EPACK_REMOTE_CONFIG without checking anything
// else (the capabilities document announces them before any request shows
// the whole configuration); defaults for values not set or not readable.
func MultipartOf(remoteConfig string) (threshold int64, partURLs int, partMD5 bool) {
	partMD5 = true
	var m map[string]any
	if json.Unmarshal([]byte(remoteConfig), &m) != nil {
		return 0, 0, partMD5
	}
	threshold, _ = parseBytes(m["multipart_threshold"])
	if n, err := parseBytes(m["multipart_part_urls"]); err == nil && n <= protocol.MaxPartURLs {
		partURLs = int(n)
	}
	if b, err := parseBool(m["multipart_part_md5"]); err == nil && b != nil {
		partMD5 = *b
	}
	return threshold, partURLs, partMD5
}

// parseBool reads a JSON boolean or "true"/"false" text (nil: not set).
func parseBool(v any) (*bool, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return &x, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return nil, err
		}
		return &b, nil
	}
	return nil, fmt.Errorf("not a boolean")
}
