package remote

import (
	"strings"

	"github.com/evidencerelay/epack/config"
)

// platformKey is "<GOOS>/<GOARCH>", the lockfile platform key.
func platformKey() string { return config.PlatformKey() }

// adapterName is the effective adapter name of r (config's rule; the remote
// name when nothing else names it).
func adapterName(r *config.Remote) string {
	if a := r.AdapterName(); a != "" {
		return a
	}
	return r.Name
}

// Endpoint variables given to adapters.
const (
	EnvEndpoint     = config.EnvRemoteEndpoint
	EnvAuthEndpoint = config.EnvRemoteAuthEndpoint
)

// endpointEnv returns the checked endpoint variables of r.
func endpointEnv(r *config.Remote) (map[string]string, error) { return r.EndpointEnv() }

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
