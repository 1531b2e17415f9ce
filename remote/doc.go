// Package remote is the host side of the Remote Adapter Protocol v1 (whose
// messages live in package protocol): everything between "the user named a
// remote" and "a verified adapter answered" — resolving the adapter binary,
// checking it against the lockfile, running it sealed with a minimal
// environment, bounding its output, and checking every response.
//
// Resolution (Resolve) looks, in order, at binary:, the install folder of a
// source remote (.epack/remotes/<remote>/<version>/<os>-<arch>/), the folder
// of the running executable ($EPACK_ADAPTER_DIR overrides it) and PATH. The
// digest pinned in epack.lock.yaml for this platform decides the status.
//
// Open applies the Policy (frozen, allow-unpinned, strict production, custom
// endpoints, the .insecure-install marker), seals the binary once
// (internal/sealedexec: a pinned digest is compared before anything runs),
// and probes --capabilities (protocol version exactly 1, kind remote_adapter;
// with SessionOptions.CapabilitiesCache a verified adapter's answer is kept
// for a day per binary digest and environment, capscache.go).
// Every Session call then runs the sealed copy with:
//   - argv "<original path> <command>", the request as one compact JSON value
//     on stdin, the project root as working directory;
//   - an environment built from scratch: the COMPAT §4.4 allowlist (proxy
//     credentials stripped), PATH, EPACK_REMOTE_PROTOCOL_VERSION=1, endpoint
//     variables, listed non-empty secrets, EPACK_REMOTE_NAME,
//     EPACK_REMOTE_FILE_ROOT and EPACK_REMOTE_CONFIG (the remote's extensions
//     as JSON). --capabilities gets neither secrets nor endpoints;
//   - its own process group, killed on timeout, cancel, output overflow
//     (stdout 10 MiB, stderr 1 MiB) and as soon as the adapter exits; a
//     process that left the group (setsid) but still holds the adapter's
//     stdout/stderr is found through /proc and killed after a short delay;
//   - stderr relayed line by line with secret values redacted;
//   - a response that must be one JSON value without duplicate keys (keys
//     differing only in case count; protocol.CheckJSON), with the
//     right ok/type/request_id and the required fields of its type. The type
//     of a success answer may be "<command>.result" or, as adapters built
//     with the existing tool's Go SDK write it, the command itself
//     (protocol.TypeAnswers); limits.max_pack_size counts like max_pack_bytes
//     (protocol.Limits.MaxPack) and an error's action may be a plain string.
//
// Error answers become *AdapterError, wrapped in an *errcode.Error whose code
// is mapped from the protocol code (codeFor) and whose hint is the action.
// unsupported_protocol for an optional command (runs.sync, auth.*) becomes
// unsupported_feature instead (IsUnsupported): the caller skips the command.
package remote
