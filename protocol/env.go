package protocol

// Environment variables a host sets for the adapter it runs. An adapter
// reads its settings from these (and from its own secrets); everything else
// in its environment is the host's allowlist.
const (
	// EnvProtocolVersion is the protocol version the host speaks ("1").
	EnvProtocolVersion = "EPACK_REMOTE_PROTOCOL_VERSION"
	// EnvRemoteName is the name of the remote in the user's epack.yaml.
	EnvRemoteName = "EPACK_REMOTE_NAME"
	// EnvFileRoot is the absolute directory file:// URLs must stay under
	// (transport.file_root, else target.dir).
	EnvFileRoot = "EPACK_REMOTE_FILE_ROOT"
	// EnvRemoteConfig is the remote's adapter settings as one JSON object.
	EnvRemoteConfig = "EPACK_REMOTE_CONFIG"
	// EnvEndpoint is the checked custom API endpoint (insecure_endpoint).
	EnvEndpoint = "EPACK_REMOTE_ENDPOINT"
	// EnvAuthEndpoint is the checked custom auth endpoint
	// (auth.insecure_endpoint).
	EnvAuthEndpoint = "EPACK_REMOTE_AUTH_ENDPOINT"
)
