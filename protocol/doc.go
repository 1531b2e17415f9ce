// Package protocol is the Remote Adapter Protocol v1 as it appears on the
// wire between a host (epack) and an adapter (an epack-remote-<name>
// program): the request and response messages (with our additions:
// releases.list in releases.go; the release log — log.streams, log.read,
// blobs.check — in log.go; registry.gc in gc.go; release.hold and
// retention in hold.go), the commands, methods and
// statuses, the error answer (one Error type and its Code* values), the
// environment variables a host sets for an adapter, and the checks every
// message must pass — one JSON value without duplicate keys (case-variant
// spellings count as duplicates), the fields a response must carry, and the
// lenient time fields the existing tool's SDK writes.
//
// It depends on the standard library only, so an adapter built on it links
// nothing of the host: no configuration, YAML or process sealing. Running
// adapters is package remote's job; writing one is package adapter's.
package protocol
