package registrytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildAdapter builds the command package pkg (an import path) into dir and
// returns the binary path. For TestMain of the adapter packages.
func BuildAdapter(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w", pkg, err)
	}
	return bin, nil
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
