// Package registry implements the semantics shared by epack's own remote
// adapters (epack-remote-filesystem, epack-remote-s3): content-addressed pack
// blobs keyed by FILE digest, release records created with a conditional
// create, per-stream and per-environment indexes moved by compare-and-swap,
// run results, and pull records — all over the small Store interface that
// registry/fsstore and registry/s3store implement.
//
// Layout (relative to the store's root or key prefix; every user-supplied
// name is checked by CheckName and escaped into one safe segment by
// EscapeName; an empty workspace or environment is "@default"):
//
//	blobs/sha256/<file-hex>                                pack bytes
//	releases/<ws>/<env>/<stream>/<release-id>.json         release record
//	streams/<ws>/<env>/<stream>/latest.json                newest release of the stream
//	streams/<ws>/<env>/<stream>/index.json                 every release of the stream, by id
//	streams/<ws>/<env>/<stream>/versions/<version>.json    newest release carrying a version
//	streams/<ws>/<env>/<stream>/digests/<file-hex>.json    the release of a pack in the stream (idempotency key)
//	streams/<ws>/<env>/@all/{latest,versions/…,digests/…,releases/<id>}.json
//	                                                       environment-wide lookups (pull sends no stream)
//	runs/<file-hex>/<run-id>/result.json                   run results
//	staging/<token>.json, staging/<token>.epack            pushes in progress (swept after 24h)
//	pulls/<file-hex>/<time>-<random>.json                  fetch records (append-only)
//
// Semantics:
//   - A release is one pack (file digest) in one stream. Release ids are
//     "rel_" + a ULID (48-bit milliseconds + 80 random bits, Crockford
//     base32), so they sort by creation time.
//   - push.prepare answers "skip" when the blob exists with the same size and
//     SHA-256; the finalize token is 128 random bits naming a staging record
//     that binds target, digests, size and release metadata.
//   - push.finalize verifies the upload (Store.Promote), then creates the
//     stream's digest marker with a conditional create: the winner creates
//     the release; every other push of that pack into that stream gets the
//     same release with its labels merged (compare-and-swap).
//   - latest and version pointers only move forward (to a larger release id).
//   - Versions are labels: "v" followed by a digit ("v1.2.3") as is, or
//     "version:X" / "version=X" for X. Pulling "1.2.3" also finds "v1.2.3".
//   - pull.prepare resolves latest / release_id / version / digest within the
//     target's stream when one is sent, otherwise across the workspace and
//     environment; it returns the FILE digest as pack.digest.
package registry
