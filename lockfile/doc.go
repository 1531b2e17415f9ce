// Package lockfile pins remote adapters in epack.lock.yaml and installs the
// pinned source adapters: the behaviour behind 'epack lock' and 'epack sync',
// usable from any Go program.
//
// [Lock] pins each selected remote: a remote with `source:` is resolved from
// its GitHub releases (version, commit, Sigstore signer and a digest per
// platform, through internal/sourceinstall); any other remote is pinned by
// the SHA-256 of the adapter binary found the way push and pull find it
// (binary:, bundled next to epack, or PATH). [Sync] installs the source
// adapters pinned for this platform, locking first what is missing or stale
// unless frozen.
//
// Both hold the project's lockfile update lock ([config.LockForUpdate])
// from reading epack.lock.yaml to writing it, so parallel runs keep every
// pin, and both write nothing unless every selected remote succeeds. They
// never print and never read the working directory: the caller names the
// project folder and receives a result to show.
package lockfile
