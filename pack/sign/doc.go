// Package sign signs evidence packs and checks their signatures: who
// produced the evidence, not only that it is intact.
//
// A signature is a Sigstore bundle stored as
// attestations/<id>.sigstore.json inside the pack (COMPAT §10.3): a DSSE
// envelope over an in-toto statement whose subject is the manifest digest,
// so adding one changes neither pack_digest nor the manifest digest. Keys
// (EC, Ed25519, RSA) sign with an empty key hint, as the existing tool does;
// keyless signing gets a short-lived Fulcio certificate for an OIDC
// identity and a Rekor log entry. Check verifies every bundle against a
// Policy (public keys, allowed OIDC identities, a trusted root) and
// reports each signature, so verify, push and pull enforce the same rules.
// sigstore-go does the cryptography.
package sign
