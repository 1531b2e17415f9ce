package s3store

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvRegistryURL names the whole S3 registry in one value, for hosts that do
// not send EPACK_REMOTE_CONFIG: the existing epack tool gives an adapter only
// its allowlisted environment plus the remote's secrets: (and refuses EPACK_*
// names there), so under it the registry travels as this variable.
const EnvRegistryURL = "S3_REGISTRY_URL"

// registryURLForm is the form of S3_REGISTRY_URL, quoted in its errors.
const registryURLForm = "s3://<bucket>[/<prefix>][?region=<region>&endpoint=<http(s) URL>&path_style=true&presign_expiry=15m]"

// LoadConfig builds the adapter's configuration from what the host sent:
// remoteConfig is EPACK_REMOTE_CONFIG (see ParseConfig) and registryURL is
// S3_REGISTRY_URL (see ParseRegistryURL). When remoteConfig names a bucket it
// is the whole truth and registryURL is ignored (with a warning when set);
// otherwise the URL gives the bucket, and its prefix and query keys override
// the matching EPACK_REMOTE_CONFIG settings, which fill in what the URL
// leaves out. Errors are invalid_request registry errors naming the setting.
func LoadConfig(remoteConfig, registryURL string) (Config, []string, error) {
	c, warnings, err := parseJSONConfig(remoteConfig)
	if err != nil {
		return c, nil, err
	}
	if strings.TrimSpace(registryURL) != "" {
		if c.Bucket != "" {
			warnings = append(warnings, fmt.Sprintf("%s ignored: the remote's extensions name bucket %q", EnvRegistryURL, c.Bucket))
		} else {
			u, set, err := parseRegistryURL(registryURL)
			if err != nil {
				return c, warnings, err
			}
			c.Bucket = u.Bucket
			if u.Prefix != "" {
				c.Prefix = u.Prefix
			}
			if set["region"] {
				c.Region = u.Region
			}
			if set["endpoint"] {
				c.Endpoint = u.Endpoint
			}
			if set["path_style"] {
				c.PathStyle = u.PathStyle
			}
			if set["presign_expiry"] {
				c.PresignExpiry = u.PresignExpiry
			}
			if set["upload_headers"] {
				c.UploadHeaders = u.UploadHeaders
			}
		}
	}
	return c, warnings, c.normalize()
}

// ParseRegistryURL reads an S3_REGISTRY_URL value,
// s3://<bucket>[/<prefix>]?region=…&endpoint=…&path_style=true&presign_expiry=…,
// into a checked Config with defaults applied. Every query key is optional
// and may appear once; upload_headers (auto, signed, none) is accepted too.
// The bucket is the URL's host and the prefix its path. Credentials, ports,
// fragments, empty values and unknown keys are refused: a typo must not
// silently point the registry elsewhere. Errors are invalid_request, name the
// variable and the expected form, and never echo the value (it is passed as
// a secret).
func ParseRegistryURL(raw string) (Config, error) {
	c, _, err := parseRegistryURL(raw)
	if err != nil {
		return Config{}, err
	}
	if err := c.normalize(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// registryURLKeys are the query keys of S3_REGISTRY_URL.
var registryURLKeys = []string{"region", "endpoint", "path_style", "presign_expiry", "upload_headers"}

// parseRegistryURL parses raw and checks the result, without applying
// defaults (so that LoadConfig can tell which keys were given: set).
func parseRegistryURL(raw string) (Config, map[string]bool, error) {
	var c Config
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error text would repeat the value
		}
		return c, nil, badURL("it is not a URL (%v)", err)
	}
	switch {
	case u.Scheme == "":
		return c, nil, badURL("it has no s3:// scheme")
	case !strings.EqualFold(u.Scheme, "s3"):
		return c, nil, badURL("scheme %q is not s3", u.Scheme)
	case u.Opaque != "":
		return c, nil, badURL("it has no // after s3:")
	case u.User != nil:
		return c, nil, badURL("credentials do not belong in the URL; pass AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as secrets")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return c, nil, badURL("a #fragment is not allowed")
	case u.Host == "":
		return c, nil, badURL("it names no bucket")
	case strings.Contains(u.Host, ":"):
		return c, nil, badURL("the bucket has a port; give the server as endpoint=<http(s) URL>")
	}
	c.Bucket = u.Host
	c.Prefix = strings.Trim(u.Path, "/")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, nil, badURL("its query is malformed (%v)", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	set := map[string]bool{}
	for _, k := range keys {
		vs := q[k]
		if len(vs) != 1 {
			return c, nil, badURL("query key %q is given %d times", k, len(vs))
		}
		v := strings.TrimSpace(vs[0])
		if v == "" {
			return c, nil, badURL("query key %q has no value", k)
		}
		switch k {
		case "region":
			c.Region = v
		case "endpoint":
			c.Endpoint = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, nil, badURL("path_style=%q is not true or false", v)
			}
			c.PathStyle = b
		case "presign_expiry":
			d, err := parseExpiry(v)
			if err != nil {
				return c, nil, badURL("presign_expiry=%q is not a duration like 15m or a number of seconds", v)
			}
			c.PresignExpiry = d
		case "upload_headers":
			c.UploadHeaders = v
		default:
			return c, nil, badURL("unknown query key %q (known: %s)", k, strings.Join(registryURLKeys, ", "))
		}
		set[k] = true
	}
	// Check what the URL gave now, so its errors name the variable; the
	// defaults are applied later (LoadConfig may fill gaps first).
	check := c
	if err := check.normalize(); err != nil {
		return c, nil, badURL("%v", err)
	}
	return c, set, nil
}

// parseExpiry reads a Go duration ("15m") or whole seconds ("900").
func parseExpiry(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func badURL(format string, args ...any) error {
	return bad("%s: %s; expected %s", EnvRegistryURL, fmt.Sprintf(format, args...), registryURLForm)
}
