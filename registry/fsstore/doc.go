// Package fsstore is the registry.Store of epack-remote-filesystem: a registry
// in a local directory (the remote's transport.file_root). Objects are files
// below the root; every folder is opened without following symbolic links
// (internal/safefile); writes are temp file + fsync + rename; conditional
// creates rename without replacing; compare-and-swap holds a per-key flock
// under <root>/.locks, so several processes can share one registry. Uploads
// and downloads are file:// URLs inside the root.
package fsstore
