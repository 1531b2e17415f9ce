package remote

import (
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
)

// Names of the environment switches the epack CLI maps onto a Policy
// (AllowUnpinned and StrictProduction). This package never reads them: the
// names appear only in error hints.
const (
	envStrictProduction = "EPACK_STRICT_PRODUCTION"
	EnvAllowUnpinned    = "EPACK_INSECURE_ALLOW_UNPINNED"
)

// Policy is the caller's execution policy for an adapter.
type Policy struct {
	// Frozen refuses anything that is not verified against epack.lock.yaml.
	Frozen bool
	// AllowUnpinned lets an adapter without a pinned digest run (audited).
	// The epack CLI sets it from --insecure-allow-unpinned or
	// EPACK_INSECURE_ALLOW_UNPINNED=1|true; the library reads no environment.
	AllowUnpinned bool
	// StrictProduction forbids the insecure overrides: AllowUnpinned and a
	// custom endpoint on the remote are refused (PolicyViolation). The epack
	// CLI sets it from EPACK_STRICT_PRODUCTION=1|true; the library reads no
	// environment.
	StrictProduction bool
	// BundledOnly runs only the adapter bundled with this epack (next to
	// the running executable), pinned or not: the caller named a registry
	// location rather than a configured remote, so there is no lockfile,
	// and the adapter is trusted as part of the installation itself.
	BundledOnly bool
	// Component names the caller in errors and audit events
	// ("push_cli", "pull", "whoami_cli" …). Default "remote_adapter".
	Component string
}

func (p Policy) component() string {
	if p.Component != "" {
		return p.Component
	}
	return "remote_adapter"
}

// Check applies the flag-level rules (COMPAT §4.2 steps 1–2) for remote r:
// frozen with allow-unpinned, and strict production with an insecure
// override or a custom endpoint. It returns the effective AllowUnpinned.
func (p Policy) Check(r *config.Remote) (bool, error) { return p.check(r) }

func (p Policy) check(r *config.Remote) (bool, error) {
	allow := p.AllowUnpinned
	if p.Frozen && allow {
		return false, errcode.New(errcode.InvalidInput, "--insecure-allow-unpinned cannot be used with --frozen")
	}
	if p.StrictProduction {
		if allow {
			return false, errcode.New(errcode.PolicyViolation, "strict production mode forbids insecure execution overrides for %s", p.component()).
				WithHint("pin the adapter with 'epack lock' instead of --insecure-allow-unpinned / %s", EnvAllowUnpinned)
		}
		if r != nil {
			if eps := customEndpoints(r); len(eps) > 0 {
				return false, errcode.New(errcode.PolicyViolation, "strict production mode forbids custom endpoints for remote %q (%s)", r.Name, eps[0]).
					WithHint("remove insecure_endpoint / auth.insecure_endpoint from epack.yaml, or unset %s", envStrictProduction)
			}
		}
	}
	return allow, nil
}

// customEndpoints lists the custom endpoints r configures, unchecked, in the
// order strict production mode reports them.
func customEndpoints(r *config.Remote) []string {
	var out []string
	for _, e := range []string{r.InsecureEndpoint, r.Endpoint, r.Auth.InsecureEndpoint, r.Auth.Endpoint} {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
