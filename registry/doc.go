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
//	releases/<ws>/<env>/<stream>/<release-id>.json         the record that created a release (release log, chain.go)
//	releases/<ws>/<env>/<stream>/<release-id>/<seq>.json   a later record of it: re-push, labels, notes
//	streams/<ws>/<env>/<stream>/head.json                  the newest record of the stream's log (compare-and-swap)
//	streams/<ws>/<env>/<stream>/current/<release-id>.json  a copy of a release's newest record (pull, listing)
//	streams/<ws>/<env>/<stream>/latest.json                newest release of the stream
//	streams/<ws>/<env>/<stream>/versions/<version>.json    the release carrying a version
//	streams/<ws>/<env>/<stream>/claims/<version>.json      the pack a version names (conditional create)
//	streams/<ws>/<env>/<stream>/digests/<file-hex>.json    the release of a pack in the stream (idempotency key)
//	streams/<ws>/<env>/<stream>/list/<t1>/<t2>/<inv>.json  listing index: every release, newest first
//	streams/<ws>/<env>/<stream>/labels/<label>/<t1>/<t2>/<inv>.json
//	                                                       listing index of one label
//	streams/<ws>/<env>/@all/{latest,versions/…,digests/…,releases/<id>,list/…,labels/…}.json
//	                                                       environment-wide lookups (pull sends no stream)
//	streams/<ws>/<env>/@all/listing.json                   every release of the environment is in list/
//	runs/<file-hex>/<run-id>/result.json                   run results
//	staging/<token>.json, staging/<token>.epack            pushes in progress (removed at finalize; gc.go)
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
//     same release with its labels merged.
//   - Every push appends one record to its stream's release log (chain.go):
//     a hash chain of canonical JSON records (seq, prev_record,
//     prev_sha256, recorded_at) whose head moves by compare-and-swap, so
//     concurrent pushes from many machines form one chain. Records are
//     never edited; push.finalize answers the record's place (release.log).
//     log.streams, log.read and blobs.check (log.go) hand out what is
//     stored; VerifyChain (verify.go) is the host's check. Records written
//     before the log (legacy) are adopted by their stream's first record.
//   - registry.gc (gc.go) removes what interrupted pushes left and blobs no
//     release references; release.hold (hold.go) and release.retain
//     (seal.go) use a store's write-once features (Sealer, Holder).
//   - latest and version pointers only move forward (to a larger release id).
//   - Versions are labels: "v" followed by a digit ("v1.2.3") as is, or
//     "version:X" / "version=X" for X. Pulling "1.2.3" also finds "v1.2.3".
//   - A version names one pack of a stream for good (versions.go): a push
//     that would give it to another pack is refused with conflict, at
//     prepare and again at finalize, before anything is written; the
//     version is claimed by conditional create before the release is
//     created, so of concurrent pushes only one can win. Pushing the same
//     pack again is idempotent. Notes are added to a release that has
//     none; different notes are refused the same way, never dropped.
//   - releases.list reads the listing index (listing.go, releases.go): an
//     ordered listing from the cursor (a release id) and one read per
//     release, so a page costs the same with 100 or 100,000 releases.
//   - pull.prepare resolves latest / release_id / version / digest within the
//     target's stream when one is sent, otherwise across the workspace and
//     environment; it returns the FILE digest as pack.digest.
package registry
