// Command epack-remote-filesystem is epack's remote adapter for a registry in
// a local directory (the embedded default): the remote's transport.file_root,
// passed by the host as EPACK_REMOTE_FILE_ROOT. Uploads and downloads are
// file:// URLs inside it.
//
// Environment (set by the epack host):
//
//	EPACK_REMOTE_FILE_ROOT   absolute registry directory = the remote's transport.file_root (required)
//	EPACK_REMOTE_CONFIG      the remote's extensions map as JSON (unused)
//
// Layout and semantics: package registry.
package main
