// Package sourceinstall resolves, verifies and installs remote adapters that
// epack.yaml configures with `source: owner/repo@<constraint>` (COMPAT §2.2,
// §3, §4.1).
//
// A source names a GitHub repository and a version constraint (`^1.2`,
// `~1.2.3`, an exact `1.2.3`/`v1.2.3`, or `latest`). Releases are listed
// through the GitHub REST API at $GITHUB_API_URL (default
// https://api.github.com, so GitHub Enterprise works), with $GITHUB_TOKEN
// sent as a bearer token when set, and only to the API host. The highest
// release tag that satisfies the constraint wins; prereleases are only
// chosen when the constraint names them exactly.
//
// Each release carries one asset per platform, `epack-remote-<adapter>_<os>_<arch>`
// (`.exe` on Windows), and next to it a Sigstore bundle
// `<asset>.sigstore.json`. A bundle is accepted only when sigstore-go verifies
// it against the trusted root (the Sigstore public-good instance in
// production, fetched through TUF by [PublicGoodVerifier]; tests inject
// their own) for the asset's SHA-256, and its certificate names the issuer
// https://token.actions.githubusercontent.com, the source repository
// https://github.com/<owner>/<repo> and the ref refs/tags/<tag>.
//
// [LockSource] pins a source remote in epack.lock.yaml: version, commit,
// signer, and a digest and asset for every platform of epack.yaml's
// `platforms:` (default: the current one). [Install] installs the pinned
// binary for the current platform under
// `.epack/remotes/<remote>/<version>/<os>-<arch>/epack-remote-<adapter>` —
// named after the adapter, which is also what the resolver looks for
// (COMPAT W14). The download goes to a private temp file in the install
// folder (no symbolic link is followed on the way, see internal/safefile),
// its digest is compared with the pin and the bundle verified, and only
// then is the file made executable and renamed into place. [Installer]
// adapts Install to remote.SessionOptions.Install, so push and pull install
// a `managed` adapter through exactly the same code as `epack sync`.
//
// Nothing unverified is installed unless [Options.InsecureSkipVerify] is
// set (`epack sync --insecure-skip-verify`); such an install leaves the
// `.insecure-install` marker in the install folder and an audit line in
// .epack/audit.log, and [Options.Frozen] refuses it.
package sourceinstall
