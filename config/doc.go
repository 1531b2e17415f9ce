// Package config finds the epack project root, loads and validates
// epack.yaml (remotes and environment overrides) and reads and writes the
// remotes section of epack.lock.yaml.
//
// Reading is defensive: both files are opened without following a symlink,
// size-limited (1 MiB / 10 MiB) and checked for YAML alias bombs, cyclic
// anchors and nesting deeper than 100 before anything is decoded; only the
// first YAML document counts.
//
// epack.yaml follows COMPAT §2, with these deliberate differences:
//   - An unknown key inside a remote, its nested sections or an environment
//     override is an error naming the key, the remote and the line, and the
//     nearest key valid at that place when one is close ("did you mean"; the
//     existing tool silently drops it, COMPAT §9 W23). Other top-level
//     sections (collectors, tools, …) are still ignored.
//   - target.dir and target.bucket, which the existing tool's example
//     configuration writes and never uses, name our adapters' registry:
//     target.dir is transport.file_root (and so the filesystem registry's
//     root), target.bucket is extensions.bucket. Both come from the base
//     remote only; a disagreeing value is an error (target.go).
//   - Environment overrides may also set transport.file_root and runs.paths
//     (replace when non-empty), transport.allow_loopback_http and extensions
//     (replace when written). Keys that are never merged (source, binary,
//     secrets, credentials, verify, release.source, auth.oidc, auth.api_key,
//     timeout, target.dir, target.bucket) are refused in an override instead of being ignored, and an
//     override must name a remote defined under remotes.
//   - Relative binary, transport.file_root and target.dir paths are made absolute
//     against the project root; timeout is a Go duration (0 < t ≤ 1h).
//   - Secret names may not contain '=' or NUL; free-form maps (extensions,
//     auth.oidc, auth.api_key, credential_sets) get string keys at every
//     depth so they can be passed on as JSON.
//
// epack.lock.yaml (COMPAT §3): Save writes schema_version and remotes from
// the LockFile, keeps every other top-level section of the file on disk,
// sorts keys, indents by 2 and replaces the file atomically; it refuses to
// write what LoadLock would refuse.
package config
