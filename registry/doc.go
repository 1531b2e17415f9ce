// Package registry implements the semantics shared by epack's own remote
// adapters (epack-remote-filesystem, epack-remote-s3): content-addressed pack
// blobs keyed by FILE digest, release records created with a conditional
// create, per-stream and per-environment indexes moved by compare-and-swap,
// run results, and pull records — all over the small Store interface that
// registry/fsstore and registry/s3store implement.
//
// Layout (relative to the store's root or key prefix; every name is escaped
// into one safe segment, see EscapeName):
//
//	blobs/sha256/<file-hex>                                pack bytes
//	releases/<ws>/<env>/<stream>/<release-id>.json         release record
//	streams/<ws>/<env>/<stream>/latest.json                newest release of the stream
//	streams/<ws>/<env>/<stream>/index.json                 every release of the stream
//	streams/<ws>/<env>/<stream>/versions/<version>.json    newest release carrying a version
//	streams/<ws>/<env>/<stream>/digests/<file-hex>.json    the release of a pack in the stream (idempotency key)
//	streams/<ws>/<env>/@all/{latest,versions/…,digests/…,releases/<id>}.json
//	                                                       environment-wide lookups (pull has no stream)
//	runs/<file-hex>/<run-id>/result.json                   run results
//	staging/<token>.json, staging/<token>.epack            push in progress
//	pulls/<file-hex>/<time>-<random>.json                  fetch records (append-only)
package registry
