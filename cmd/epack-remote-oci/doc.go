// Command epack-remote-oci is epack's remote adapter for a registry in an
// OCI registry (GHCR, ECR, ACR, Harbor, GitLab, Docker's distribution…):
// each pack is an OCI artifact in <registry>/<namespace>/<stream>, tagged
// with its release id, its versions and latest, its run results referrers of
// it (package registry/ocistore).
//
// Environment (set by the epack host):
//
//	EPACK_REMOTE_CONFIG   the remote's extensions map as JSON:
//	                      {"registry": "ghcr.io",          required: host[:port]
//	                       "namespace": "acme/evidence",   repository path prefix; may use {workspace}, {environment}
//	                       "ca_file": "/etc/ssl/corp.pem", extra trusted CAs for the registry
//	                       "plain_http": false,            http, for a registry on loopback only
//	                       "direct_transfers": true}       let epack move bytes itself when no credential is needed
//	                                                       (default true; false with ca_file or plain_http)
//	EPACK_REMOTE_FILE_ROOT  transport.file_root: where the adapter puts a pack it downloads for
//	                      epack when the registry wants credentials for it (distribution, Harbor…)
//	OCI_USERNAME, OCI_PASSWORD   registry user and password (or token as password);
//	OCI_TOKEN             a token: the password of OCI_USERNAME, or alone a registry bearer token
//	                      (list them in the remote's secrets:)
//	DOCKER_CONFIG, HOME   without those secrets: $DOCKER_CONFIG/config.json or ~/.docker/config.json,
//	                      with its credential helpers (docker login / oras login)
//
// Credentials never leave the adapter: when an upload or download needs
// one, the adapter moves the bytes itself (reading pack.path, or writing
// below the file root) instead of handing the host a URL.
//
// Every protocol command gets one JSON answer and exit status 0, error
// answers included (package adapter).
package main
