package config

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/errcode"
)

// AdapterName returns the adapter name: the explicit adapter:, else the name
// inferred from source: (text before the first '@', after the last '/',
// without a leading "epack-remote-"), else the base name of binary: without
// "epack-remote-" (and ".exe"). "" when none is known.
func (r *Remote) AdapterName() string {
	if r == nil {
		return ""
	}
	if a := strings.TrimSpace(r.Adapter); a != "" {
		return a
	}
	if s := strings.TrimSpace(r.Source); s != "" {
		if i := strings.Index(s, "@"); i >= 0 {
			s = s[:i]
		}
		if i := strings.LastIndex(s, "/"); i >= 0 {
			s = s[i+1:]
		}
		return strings.TrimPrefix(s, "epack-remote-")
	}
	if b := strings.TrimSpace(r.Binary); b != "" {
		b = strings.TrimSuffix(filepath.Base(b), ".exe")
		return strings.TrimPrefix(b, "epack-remote-")
	}
	return ""
}

// RunsSyncEnabled reports whether run results are synced (runs.sync; unset means true).
func (r *Remote) RunsSyncEnabled() bool {
	return r == nil || r.Runs.Sync == nil || *r.Runs.Sync
}

// TimeoutDuration returns remotes.<name>.timeout, or def when unset.
func (r *Remote) TimeoutDuration(def Duration) Duration {
	if r == nil || r.Timeout <= 0 {
		return def
	}
	return r.Timeout
}

// Endpoints are a remote's custom endpoints after CheckEndpoint; "" means
// the adapter's default. How they reach an adapter is the host's business.
type Endpoints struct {
	API  string // insecure_endpoint (legacy: endpoint)
	Auth string // auth.insecure_endpoint (legacy: auth.endpoint)
}

// CheckedEndpoints checks the custom endpoints of r: insecure_endpoint and
// auth.insecure_endpoint, the legacy endpoint keys counting when the new ones
// are empty. Each URL is trimmed and must be https with a host and no
// userinfo, query or fragment; the result holds the normalised URLs. Errors
// are ConfigInvalid and name the offending key.
func (r *Remote) CheckedEndpoints() (Endpoints, error) {
	var out Endpoints
	if r == nil {
		return out, nil
	}
	for _, e := range []struct {
		key string
		dst *string
		val string
	}{
		{"insecure_endpoint", &out.API, firstNonEmpty(r.InsecureEndpoint, r.Endpoint)},
		{"auth.insecure_endpoint", &out.Auth, firstNonEmpty(r.Auth.InsecureEndpoint, r.Auth.Endpoint)},
	} {
		v := strings.TrimSpace(e.val)
		if v == "" {
			continue
		}
		norm, err := CheckEndpoint(v)
		if err != nil {
			return Endpoints{}, errcode.Wrap(errcode.ConfigInvalid, err, "remote %q: %s", r.Name, e.key).
				WithHint("use an https:// URL with a host and no credentials, query or fragment")
		}
		*e.dst = norm
	}
	return out, nil
}

// CheckEndpoint validates a custom endpoint URL (trimmed; https; host
// required; no userinfo, query or fragment) and returns its normalised form.
func CheckEndpoint(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return "", errcode.New(errcode.ConfigInvalid, "invalid endpoint URL %q", raw)
	}
	switch {
	case !strings.EqualFold(u.Scheme, "https"):
		return "", errcode.New(errcode.ConfigInvalid, "endpoint %q must use HTTPS", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", errcode.New(errcode.ConfigInvalid, "endpoint %q has no host", raw)
	case u.User != nil:
		return "", errcode.New(errcode.ConfigInvalid, "endpoint must not contain credentials (user info)")
	case u.RawQuery != "" || u.ForceQuery:
		return "", errcode.New(errcode.ConfigInvalid, "endpoint %q must not have a query", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", errcode.New(errcode.ConfigInvalid, "endpoint %q must not have a fragment", raw)
	case u.Opaque != "":
		return "", errcode.New(errcode.ConfigInvalid, "invalid endpoint URL %q", raw)
	}
	u.Scheme = "https"
	return u.String(), nil
}
