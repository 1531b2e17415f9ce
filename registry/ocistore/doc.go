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
//	            pack.digest,manifest.digest,labels,version,notes,build_context,signers,updated}
//	            and org.opencontainers.image.created
//	tags        rel_<ULID>            the release (pull by release id)
//	            pack-sha256-<hex>     the release of that pack file in the stream (idempotency, pull by digest)
//	            pack-sha256-<hex>.<release id>
//	                                  a candidate for it: concurrent first pushes of a pack settle on
//	                                  the published or else the oldest candidate
//	            <version>             each version label ("v1.0.0"; '+' is written '_')
//	            vc-<sha256(version tag)[:24]>-<ULID>
//	                                  a candidate for a version: of concurrent claims the oldest
//	                                  candidate not withdrawn wins
//	            latest                the newest release (for other tools; epack resolves latest from the rel_ tags)
//	            run-<hex24>-<hash>    a run result (runs.go): a referrer of the release manifest,
//	                                  artifactType application/vnd.evidencepack.run.v1, layer result.json
//	            sig-<hex24>-<hash>    a signature (signatures.go): a referrer of the release manifest,
//	                                  artifactType application/vnd.evidencepack.signature.v1, layer the
//	                                  Sigstore bundle from the pack's attestations/
//
// Semantics (as in package registry): release ids are rel_<ULID>; pushing a
// pack into a stream that has it returns its release with the labels and
// notes merged (a new manifest for the same release id; its tags move) and
// its signers as the first push told them;
// a version tag never moves to another pack — such a push is refused with
// conflict, naming the release that holds the version, before anything is
// written. Without compare-and-swap, claims go through candidate tags:
// a push tags its manifest as a candidate, lists the candidates (twice)
// and gives way to the oldest one not withdrawn; a published tag always
// wins. That settles almost every race, not all (a candidate written after
// another looked, but named older): in tests, 8 simultaneous pushes of 8
// packs with one version gave one winner in 20 of 20 rounds, 8 first pushes
// of one pack one release in 29 of 30 — and then each answer is still a
// release of the pack, and later pushes all return the one the pack tag
// names.
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
