package push

import (
	"slices"

	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
)

// releaseSigners is what push.prepare's release.signers says of who signed
// the pack: each signature that satisfied the remote's signer policy as
// verified (key id, or the certificate's subject and issuer), every other
// bundle of the pack as claimed, read without checking like 'epack
// inspect' does (an unchecked key signature names no key: its bundle holds
// none). Only identities, never key material. Unreadable bundles are left
// out, entries are in attestation order, at most MaxReleaseSigners of them,
// and an entry the protocol would refuse is dropped rather than failing
// the push: a registry never needs signers to accept a pack.
func releaseSigners(attestations []string, bundles map[string][]byte, checked []sign.Signature) []protocol.ReleaseSigner {
	byEntry := make(map[string]sign.Signature, len(checked))
	for _, s := range checked {
		byEntry[s.Entry] = s
	}
	names := slices.Clone(attestations)
	for name := range bundles {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	out := []protocol.ReleaseSigner{}
	for _, name := range names {
		if len(out) == protocol.MaxReleaseSigners {
			break
		}
		s, verified := byEntry[name]
		if !verified {
			raw, ok := bundles[name]
			if !ok {
				continue
			}
			s = sign.Describe(name, raw)
		}
		rs := protocol.ReleaseSigner{Kind: s.Kind, Verified: verified}
		switch s.Kind {
		case protocol.SignerKey:
			rs.KeyID, rs.Signer = s.KeyID, s.KeyID // never the key file's local path
		case protocol.SignerKeyless:
			rs.Subject, rs.Issuer, rs.Signer = s.Subject, s.Issuer, s.Subject
		default:
			continue // unreadable: nobody is named
		}
		if protocol.CheckSigners([]protocol.ReleaseSigner{rs}) != nil {
			continue
		}
		out = append(out, rs)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
