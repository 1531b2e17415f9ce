package remote

// Small helpers over config.Remote that the config package also offers
// (AdapterName, EndpointEnv, PlatformKey). They are kept here, private, so the
// runtime does not depend on the order in which the packages land; they follow
// COMPAT §2.2/§2.3 exactly.

import (
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/errcode"
)

// platformKey is "<GOOS>/<GOARCH>", the lockfile platform key.
func platformKey() string { return runtime.GOOS + "/" + runtime.GOARCH }

// adapterName is the effective adapter name of r: the explicit adapter, else
// inferred from source (drop from the first '@', keep after the last '/',
// strip "epack-remote-"), else from the binary's file name.
func adapterName(r *config.Remote) string {
	if r.Adapter != "" {
		return r.Adapter
	}
	if r.Source != "" {
		s := r.Source
		if i := strings.IndexByte(s, '@'); i >= 0 {
			s = s[:i]
		}
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		return strings.TrimPrefix(s, BinaryPrefix)
	}
	if r.Binary != "" {
		return strings.TrimPrefix(filepath.Base(r.Binary), BinaryPrefix)
	}
	return r.Name
}

// EndpointEnv variable names.
const (
	EnvEndpoint     = "EPACK_REMOTE_ENDPOINT"
	EnvAuthEndpoint = "EPACK_REMOTE_AUTH_ENDPOINT"
)

// endpointEnv returns the endpoint variables of r, each URL checked (https,
// host, no userinfo, query or fragment) and normalised.
func endpointEnv(r *config.Remote) (map[string]string, error) {
	out := map[string]string{}
	ep := strings.TrimSpace(r.InsecureEndpoint)
	if ep == "" {
		ep = strings.TrimSpace(r.Endpoint)
	}
	if ep != "" {
		u, err := checkEndpoint(ep)
		if err != nil {
			return nil, errcode.Wrap(errcode.ConfigInvalid, err, "remote %q insecure_endpoint", r.Name)
		}
		out[EnvEndpoint] = u
	}
	aep := strings.TrimSpace(r.Auth.InsecureEndpoint)
	if aep == "" {
		aep = strings.TrimSpace(r.Auth.Endpoint)
	}
	if aep != "" {
		u, err := checkEndpoint(aep)
		if err != nil {
			return nil, errcode.Wrap(errcode.ConfigInvalid, err, "remote %q auth.insecure_endpoint", r.Name)
		}
		out[EnvAuthEndpoint] = u
	}
	return out, nil
}

func checkEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("endpoint %q must use HTTPS", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("endpoint %q has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("endpoint %q must not contain credentials", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("endpoint %q must not have a query", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("endpoint %q must not have a fragment", raw)
	}
	return u.String(), nil
}

// customEndpoints lists the configured custom endpoints of r (unchecked).
func customEndpoints(r *config.Remote) []string {
	var out []string
	for _, e := range []string{r.InsecureEndpoint, r.Endpoint, r.Auth.InsecureEndpoint, r.Auth.Endpoint} {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
