// Environment (set by the epack host):
//
//	EPACK_REMOTE_FILE_ROOT   absolute registry directory = the remote's transport.file_root (required)
//	EPACK_REMOTE_CONFIG      the remote's extensions map as JSON (unused)
//
// Layout and semantics: package registry.
package main
