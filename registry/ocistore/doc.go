// Package ocistore is epack's registry in an OCI registry (GHCR, ECR, ACR,
// Harbor, GitLab, distribution…), reached with oras-go v2: the protocol
// operations of epack-remote-oci, with the release semantics of package
// registry where an OCI registry can hold them.
//
// An OCI registry has no conditional writes, so this is not a
// registry.Store; packs are OCI artifacts instead, readable with any OCI
// tool:
//
//	repository  <registry>/<namespace>/<stream>         (stream lower-cased; refused when it cannot be mapped)
//	manifest    image manifest, artifactType application/vnd.evidencepack.pack.v1,
//	            empty config, one layer: the .epack bytes (application/vnd.evidencepack.pack.v1+zip,
//	            digest = the pack FILE digest, org.opencontainers.image.title for oras pull),
//	            annotations org.evidencepack.{release.id,stream,workspace,environment,
//	            pack.digest,manifest.digest,labels,version,notes,build_context,updated}
//	            and org.opencontainers.image.created
//	tags        rel_<ULID>            the release (pull by release id)
//	            pack-sha256-<hex>     the release of that pack file in the stream (idempotency, pull by digest)
//	            pack-sha256-<hex>.<release id>
//	                                  a candidate for it: concurrent first pushes of a pack settle on
//	                                  the published or else the oldest candidate
//	            <version>             each version label ("v1.0.0"; '+' is written '_')
//	            latest                the newest release (for other tools; epack resolves latest from the rel_ tags)
//	            run-<hex24>-<hash>    a run result (runs.go): a referrer of the release manifest,
//	                                  artifactType application/vnd.evidencepack.run.v1, layer result.json
//
// Semantics (as in package registry): release ids are rel_<ULID>; pushing a
// pack into a stream that has it returns its release with the labels and
// notes merged (a new manifest for the same release id; its tags move);
// a version tag never moves to another pack — such a push is refused with
// conflict, naming the release that holds the version, before anything is
// written. The checks read before they write: without compare-and-swap,
// two pushes racing for one version (or the first release of one pack)
// within the same few milliseconds can both pass; writes are read back and
// first releases go through candidate tags, which settles almost all such
// races (8 simultaneous first pushes of one pack: one release in 29 of 30
// rounds on distribution) but not all — each answer is then still a release
// of the pack, and later pushes all return the one the pack tag names.
// Tag immutability settings of a registry (ECR, Harbor) make the version
// rule strict; they must leave latest, rel_ and pack- tags movable.
//
// Bytes: the host never receives a registry credential. When the registry
// lets the adapter open an upload session without credentials, push.prepare
// answers with that session's URL (a monolithic PUT ?digest=, checked by the
// registry); otherwise the adapter uploads the pack from pack.path itself,
// hashing what it sends, and answers "skip". pull.prepare answers with the
// blob URL when it needs no credentials, with the storage URL a registry
// redirects to (GHCR, ECR, ACR: short-lived, for that blob only), or else
// downloads the blob into EPACK_REMOTE_FILE_ROOT (transport.file_root) and
// answers with a file:// URL. The host checks the digest in every case.
package ocistore
