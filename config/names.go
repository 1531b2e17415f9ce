package config

import (
	"fmt"
	"strings"

	"github.com/evidencerelay/epack/internal/names"
)

// isName is the rule of COMPAT §2.3 for remote, adapter, environment and
// credential-set names (and lockfile remote keys): ^[a-z0-9][a-z0-9._-]{0,63}$.
func isName(s string) bool {
	return names.Token(s, names.Lower+names.Digits, names.Lower+names.Digits+"._-", 63)
}

// nameHint explains the naming rule to the user.
const nameHint = "names use lowercase letters, digits, '.', '_' and '-', start with a letter or digit, are at most 64 characters long and never contain \"..\""

// CheckName reports whether name is a valid remote, adapter, environment or
// credential-set name: ^[a-z0-9][a-z0-9._-]{0,63}$, no "..", not ".".
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("name is empty")
	case name == ".":
		return fmt.Errorf("name %q is not allowed", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("name %q must not contain \"..\"", name)
	case !isName(name):
		return fmt.Errorf("name %q must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// reservedSecretPrefixes are refused (case-insensitively) as secret names:
// they would let a config inject loader or epack control variables.
var reservedSecretPrefixes = []string{"EPACK_", "LD_", "DYLD_", "_"}

// oidcRequestPrefix names the GitHub OIDC request variables that must not be
// passed raw while managed credentials are in use.
const oidcRequestPrefix = "ACTIONS_ID_TOKEN_REQUEST_"

// CheckSecretName reports whether name may be listed under secrets: (passed
// through to the adapter's environment). Empty names, names containing '='
// or NUL, and names starting (case-insensitively) with EPACK_, LD_, DYLD_ or
// _ are refused; everything else, even PATH or HOME, is allowed.
func CheckSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("empty secret name")
	}
	if strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("secret name %q must not contain '=' or NUL", name)
	}
	up := strings.ToUpper(name)
	for _, p := range reservedSecretPrefixes {
		if strings.HasPrefix(up, p) {
			return fmt.Errorf("secret name %q uses the reserved prefix %q", name, p)
		}
	}
	return nil
}
