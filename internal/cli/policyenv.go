package cli

import (
	"os"
	"strings"

	"github.com/evidencerelay/epack/remote"
)

// The environment switches of the adapter execution policy. The libraries
// (remote, push, pull, lockfile, sourceinstall) read no environment for
// them: the CLI reads them here and sets the matching option fields.
const (
	// envAllowUnpinned=1|true is --insecure-allow-unpinned for every
	// command that runs an adapter.
	envAllowUnpinned = remote.EnvAllowUnpinned
	// envStrictProduction=1|true forbids the insecure overrides
	// (--insecure-allow-unpinned, custom endpoints, --insecure-skip-verify).
	envStrictProduction = "EPACK_STRICT_PRODUCTION"
)

// envTrue reports whether the variable name is "1" or "true" (any case,
// surrounding blanks ignored).
func envTrue(name string) bool {
	v := strings.TrimSpace(os.Getenv(name))
	return v == "1" || strings.EqualFold(v, "true")
}

// allowUnpinnedFromEnv reports whether EPACK_INSECURE_ALLOW_UNPINNED is set;
// it is the default of --insecure-allow-unpinned.
func allowUnpinnedFromEnv() bool { return envTrue(envAllowUnpinned) }

// strictProduction reports whether EPACK_STRICT_PRODUCTION is set.
func strictProduction() bool { return envTrue(envStrictProduction) }

// execPolicy is the adapter execution policy of a command: its --frozen and
// --insecure-allow-unpinned flags plus the two environment switches.
// EPACK_INSECURE_ALLOW_UNPINNED allows unpinned adapters even when the flag
// is given as false, as it always has.
func execPolicy(frozen, allowUnpinned bool, component string) remote.Policy {
	return remote.Policy{
		Frozen:           frozen,
		AllowUnpinned:    allowUnpinned || allowUnpinnedFromEnv(),
		StrictProduction: strictProduction(),
		Component:        component,
	}
}
