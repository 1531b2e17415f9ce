package fsstore

import (
	"path/filepath"

	"github.com/evidencerelay/epack/protocol"
)

// EnvRegistryRoot names the registry directory when the host does not send
// EPACK_REMOTE_FILE_ROOT. The existing epack tool gives an adapter only its
// allowlisted environment plus the remote's secrets: (and refuses EPACK_*
// names there), so under it the root travels as this variable.
const EnvRegistryRoot = "FS_REGISTRY_ROOT"

// RegistryRoot picks the registry directory from what the host gave the
// adapter: fileRoot (EPACK_REMOTE_FILE_ROOT, our host's transport.file_root)
// when set, else registryRoot (FS_REGISTRY_ROOT). The root must be absolute;
// errors are invalid_request and name the setting to fix.
func RegistryRoot(fileRoot, registryRoot string) (string, error) {
	if fileRoot != "" {
		if !filepath.IsAbs(fileRoot) {
			return "", protocol.Errorf(protocol.CodeInvalidRequest,
				"registry root %q (transport.file_root, sent as %s) must be an absolute path", fileRoot, protocol.EnvFileRoot)
		}
		return fileRoot, nil
	}
	if registryRoot == "" {
		return "", protocol.Errorf(protocol.CodeInvalidRequest,
			"the filesystem registry has no root: set transport.file_root in the remote's epack.yaml entry, "+
				"or, under a host that does not send %s, set %s=<absolute directory> and list it in the remote's secrets:",
			protocol.EnvFileRoot, EnvRegistryRoot)
	}
	if !filepath.IsAbs(registryRoot) {
		return "", protocol.Errorf(protocol.CodeInvalidRequest,
			"%s %q must be an absolute path (the adapter runs in the host's working folder, so a relative root would move with it)",
			EnvRegistryRoot, registryRoot)
	}
	return registryRoot, nil
}
