package workflow

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/pack/sign"
)

// SignerPolicy is a remote's verify: block, loaded: push checks a pack
// against it before anything is sent, pull before the download is moved
// into place.
type SignerPolicy struct {
	Remote string
	// Strict refuses a pack no allowed signer signed; otherwise the
	// operation goes on with a warning.
	Strict bool
	Policy sign.Policy
}

// LoadSignerPolicy reads the remote's signer policy. Key files are read
// here, so a missing or unreadable key stops the operation before an
// adapter runs; the trusted root is loaded only when a keyless signature
// needs it. It returns nil when the remote names no signers.
func LoadSignerPolicy(remoteName string, r *config.Remote, warn io.Writer) (*SignerPolicy, error) {
	v := r.Verify
	if len(v.Signers) == 0 {
		if v.Strict && warn != nil {
			fmt.Fprintf(warn, "Warning: remote %q has verify.strict but no verify.signers; signatures are not checked\n", remoteName)
		}
		return nil, nil
	}
	sp := &SignerPolicy{Remote: remoteName, Strict: v.Strict}
	for i, s := range v.Signers {
		if s.Key != "" {
			k, err := sign.LoadPublicKey(s.Key)
			if err != nil {
				return nil, errcode.Wrap(errcode.ConfigInvalid, err, "remote %q verify.signers[%d]: %v", remoteName, i, err).
					WithHint("keys are read relative to the project root; fix the path in epack.yaml")
			}
			sp.Policy.Keys = append(sp.Policy.Keys, k)
			continue
		}
		sp.Policy.Identities = append(sp.Policy.Identities, sign.Identity{
			Issuer: s.Issuer, IssuerRegexp: s.IssuerRegexp, Subject: s.Subject, SubjectRegexp: s.SubjectRegexp,
		})
	}
	if err := sp.Policy.Validate(); err != nil {
		return nil, errcode.Wrap(errcode.ConfigInvalid, err, "remote %q verify.signers: %v", remoteName, err)
	}
	trust := v.TrustRoot
	sp.Policy.LoadTrustedRoot = func() (root.TrustedMaterial, error) {
		if trust != "" {
			return sign.LoadTrustedRoot(trust)
		}
		return sign.PublicGoodRoot(false)
	}
	return sp, nil
}

// Check judges a pack's signatures (entry → bundle bytes, from the same
// verified bytes) and returns the signatures that satisfied the policy. A
// strict policy that is not satisfied gives the report's error (exit 12);
// a lenient one writes it to warn and returns no error.
func (sp *SignerPolicy) Check(what, manifestDigest string, bundles map[string][]byte, warn io.Writer) ([]sign.Signature, error) {
	rep := sign.Check(manifestDigest, bundles, sp.Policy)
	if err := rep.Err(); err != nil {
		if sp.Strict {
			return nil, fmt.Errorf("%s is refused by remote %q's signer policy (verify.strict): %w", what, sp.Remote, err)
		}
		if warn != nil {
			fmt.Fprintf(warn, "Warning: %s is not signed by a signer remote %q allows (verify.strict is off, so going on): %s\n",
				what, sp.Remote, termtext.Line(strings.ReplaceAll(errText(err), "\n", " ")))
		}
		return nil, nil
	}
	return rep.Allowed(), nil
}

func errText(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
