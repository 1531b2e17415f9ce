// Command epack-remote-filesystem is epack's remote adapter for a registry in
// a local directory (the embedded default): the remote's transport.file_root.
// Uploads and downloads are file:// URLs inside it, so the host must accept
// file:// transfers under that directory (transport.file_root).
//
// Environment:
//
//	EPACK_REMOTE_FILE_ROOT   absolute registry directory = the remote's transport.file_root (sent by our host)
//	FS_REGISTRY_ROOT         absolute registry directory when EPACK_REMOTE_FILE_ROOT is empty:
//	                         hosts that pass only the remote's secrets: (the existing epack tool)
//	EPACK_REMOTE_CONFIG      the remote's extensions map as JSON (unused)
//
// Every protocol command gets one JSON answer and exit status 0, error
// answers included (package adapter). Layout and semantics: package registry.
package main
