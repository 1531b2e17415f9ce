package registrytest

import (
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/internal/testkit"
)

// BuildAdapter builds the command package pkg (an import path or a path
// relative to the module root) through internal/testkit, once per test
// process, and returns the binary's path. For TestMain of the adapter
// packages, which end with testkit.Main or testkit.Cleanup to remove it.
func BuildAdapter(pkg string) (string, error) {
	dir, err := testkit.Build(pkg)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(pkg)), nil
}

// HostEnv is the environment the epack host gives an adapter (COMPAT §4.4):
// PATH and HOME from the parent, the protocol version, the remote name, and
// extra (EPACK_REMOTE_FILE_ROOT, EPACK_REMOTE_CONFIG, secrets…).
func HostEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"EPACK_REMOTE_PROTOCOL_VERSION=1",
		"EPACK_REMOTE_NAME=origin",
	}
	return append(env, extra...)
}
