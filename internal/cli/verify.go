package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
)

// verifyOptions are the arguments of 'epack verify'.
type verifyOptions struct {
	g    *Globals
	Path string

	Keys                      []string
	Identity                  sign.Identity
	TrustRoot                 string
	Offline                   bool
	IntegrityOnly             bool
	InsecureSkipIdentityCheck bool
	RequireAttestation        bool
	Remote, Environment       string
}

// newCmdVerify builds 'epack verify'; runF runs the parsed options (nil: runVerify).

// verifyNoMD5 is the verification pass for commands that show no MD5
// (verify, diff, push --dry-run): the MD5 is the slowest of its hashes.
var verifyNoMD5 = pack.VerifyOptions{SkipMD5: func() bool { return true }}

func newCmdVerify(g *Globals, runF func(context.Context, *verifyOptions) error) *cobra.Command {
	o := &verifyOptions{g: g}
	if runF == nil {
		runF = runVerify
	}
	cmd := &cobra.Command{
		Use:   "verify <pack>",
		Short: "Check a pack's structure, digests and signatures",
		Long: `Verify an evidence pack: every ZIP-safety and structure rule, the manifest,
the size and SHA-256 digest of every artifact, pack_digest, and who signed it.

Signatures are checked against a signer policy: public keys (--key, for packs
signed with 'epack sign --key'), keyless identities (--issuer/--subject or
their -regexp forms, checked against Sigstore's public-good trusted root or
--trust-root), or the verify: block of a remote in epack.yaml (--remote). A
signed pack verified without any policy fails, because a signature nobody
checks proves nothing; --integrity-only checks digests only.

Exit status: 0 valid; 2 malformed pack; 11 digest or size mismatch;
12 no signature satisfies the policy (or a signed pack and no policy).`,
		Example: `  epack verify dist/acme.epack --key keys/ci.pub
  epack verify dist/acme.epack --issuer https://token.actions.githubusercontent.com \
      --subject-regexp '^https://github\.com/acme/evidence/'
  epack verify dist/acme.epack --remote origin      # the remote's verify.signers
  epack verify dist/acme.epack --integrity-only`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Keys, "key", nil, "public key (PEM) allowed to have signed the pack (repeatable)")
	f.StringVar(&o.Identity.Issuer, "issuer", "", "OIDC issuer a keyless signer's certificate must name")
	f.StringVar(&o.Identity.IssuerRegexp, "issuer-regexp", "", "regular expression for the OIDC issuer")
	f.StringVar(&o.Identity.Subject, "subject", "", "certificate subject (SAN) a keyless signer must have")
	f.StringVar(&o.Identity.SubjectRegexp, "subject-regexp", "", "regular expression for the certificate subject")
	f.StringVar(&o.TrustRoot, "trust-root", "", "Sigstore trusted_root.json (default: the public-good root through TUF)")
	f.BoolVar(&o.Offline, "offline", false, "do not contact the TUF repository; use the cached Sigstore root")
	f.BoolVar(&o.IntegrityOnly, "integrity-only", false, "check structure and digests only, not signatures")
	f.BoolVar(&o.InsecureSkipIdentityCheck, "insecure-skip-identity-check", false, "accept any valid keyless signature, whoever made it")
	f.BoolVar(&o.RequireAttestation, "require-attestation", false, "fail when the pack carries no signature")
	f.StringVar(&o.Remote, "remote", "", "check signatures against this remote's verify.signers in epack.yaml")
	f.StringVarP(&o.Environment, "environment", "e", "", "environment overrides to apply with --remote")
	return cmd
}

// policy builds the signer policy from the flags or the named remote.
func (o *verifyOptions) policy() (*sign.Policy, error) {
	p := &sign.Policy{AnyIdentity: o.InsecureSkipIdentityCheck}
	for _, k := range o.Keys {
		pk, err := sign.LoadPublicKey(k)
		if err != nil {
			return nil, err
		}
		p.Keys = append(p.Keys, pk)
	}
	if o.Identity != (sign.Identity{}) {
		p.Identities = append(p.Identities, o.Identity)
	}
	trust := o.TrustRoot
	if o.Remote != "" {
		if !p.IsZero() {
			return nil, errcode.New(errcode.InvalidInput, "--remote cannot be combined with --key, --issuer/--subject or --insecure-skip-identity-check").
				WithHint("use either the remote's verify.signers or flags")
		}
		dir, err := workingDir()
		if err != nil {
			return nil, err
		}
		project, err := config.LoadProject(dir)
		if err != nil {
			return nil, err
		}
		rc, err := project.Config.ResolveRemote(o.Remote, o.Environment)
		if err != nil {
			return nil, err
		}
		sp, err := workflow.LoadSignerPolicy(o.Remote, rc, o.g.IO.ErrOut)
		if err != nil {
			return nil, err
		}
		if sp == nil {
			return nil, errcode.New(errcode.ConfigInvalid, "remote %q has no verify.signers", o.Remote).
				WithHint("add verify.signers to the remote in epack.yaml, or give --key / --issuer and --subject")
		}
		p = &sp.Policy
		if trust == "" {
			trust = rc.Verify.TrustRoot
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	offline := o.Offline
	p.LoadTrustedRoot = func() (root.TrustedMaterial, error) {
		if trust != "" {
			return sign.LoadTrustedRoot(trust)
		}
		return sign.PublicGoodRoot(offline)
	}
	return p, nil
}

// runVerify checks the pack's structure, every digest and its signatures.
func runVerify(ctx context.Context, o *verifyOptions) error {
	g, path := o.g, o.Path
	start := time.Now()
	var pol *sign.Policy
	if !o.IntegrityOnly {
		var err error
		if pol, err = o.policy(); err != nil {
			return err
		}
	}
	f, _, err := pack.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := pack.VerifyFile(ctx, f, verifyNoMD5)
	if err != nil {
		return err
	}
	m := v.Manifest
	var total int64
	for _, a := range m.Artifacts {
		total += a.Size
	}
	var rep *sign.Report
	var sigErr error
	switch {
	case o.IntegrityOnly:
	case len(v.Bundles) == 0:
		if o.RequireAttestation {
			sigErr = errcode.New(errcode.SignatureInvalid, "%s is not signed (--require-attestation)", path).
				WithHint("sign it with 'epack sign %s --key <private.pem>'", path)
		}
	default:
		rep = sign.Check(v.ManifestDigest, v.Bundles, *pol)
		sigErr = rep.Err()
	}
	sigs := []sign.Signature{}
	if rep != nil {
		sigs = rep.Signatures
	}
	if g.JSON {
		attErrs := []string{}
		for _, s := range sigs {
			if !s.Allowed {
				attErrs = append(attErrs, s.Entry+": "+s.Error)
			}
		}
		if sigErr != nil && len(attErrs) == 0 {
			attErrs = append(attErrs, sigErr.Error())
		}
		writeJSON(g.IO.Out, map[string]any{
			// The existing tool's keys (COMPAT §10.4) first, then ours.
			"verified": sigErr == nil, "artifact_count": len(m.Artifacts), "artifact_errors": []string{},
			"attestation_count": len(v.Attestations), "attestation_errors": attErrs, "attestations": v.Attestations,
			"embedded_errors": []string{}, "pack_digest": m.PackDigest, "pack_digest_error": "", "stream": m.Stream,
			"ok": sigErr == nil, "pack": path, "generated_at": m.GeneratedAt,
			"artifacts": len(m.Artifacts), "artifact_bytes": total, "size_bytes": v.File.Size,
			"manifest_digest": v.ManifestDigest, "manifest_digest_sha256": v.ManifestDigest, "file_digest": v.File.SHA256,
			"signatures": sigs, "signatures_checked": !o.IntegrityOnly,
		})
		if sigErr != nil {
			fmt.Fprintf(g.IO.ErrOut, "Error: [%s] %s\n", errcode.Of(sigErr), termSafe(sigErr.Error()))
			if h := errcode.HintOf(sigErr); h != "" {
				fmt.Fprintf(g.IO.ErrOut, "Hint: %s\n", termSafe(h))
			}
			return &exitError{code: exitstatus.Of(sigErr)}
		}
		return nil
	}
	if sigErr != nil {
		printSignatures(g, sigs)
		return sigErr
	}
	g.out("%s Verified %s\n", g.okMark(), path)
	g.out("  stream:          %s\n", termSafe(m.Stream))
	g.out("  artifacts:       %d (%s)\n", len(m.Artifacts), formatSize(total))
	g.out("  pack_digest:     %s\n", m.PackDigest)
	g.out("  manifest_digest: %s\n", v.ManifestDigest)
	g.out("  file digest:     %s\n", v.File.SHA256)
	switch n := len(v.Attestations); {
	case n > 0 && o.IntegrityOnly:
		g.out("  signatures:      %d (not checked: --integrity-only)\n", n)
	case n > 0:
		g.out("  signatures:      %d checked\n", n)
		printSignatures(g, sigs)
	default:
		g.out("  signatures:      none\n")
	}
	if g.Verbose {
		for _, a := range m.Artifacts {
			g.out("  %s %s\n", g.okMark(), termSafe(a.Path))
		}
	}
	g.verbose("verified in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// printSignatures shows one line per signature: who, how, and whether it
// counted.
func printSignatures(g *Globals, sigs []sign.Signature) {
	w := g.IO.Out
	if g.Quiet {
		return
	}
	for _, s := range sigs {
		mark := g.okMark()
		if !s.Allowed {
			mark = g.failMark()
		}
		who := s.Signer
		if who == "" {
			who = s.Subject
		}
		if who == "" && s.KeyID != "" {
			who = "key " + s.KeyID[:16]
		}
		if who == "" {
			// A key signature no given key verifies names nobody: say
			// which entry it is.
			who = "entry " + shortSigEntry(s.Entry)
		}
		line := fmt.Sprintf("    %s %s %s", mark, s.Kind, termSafe(who))
		if s.Issuer != "" {
			line += " (issuer " + termSafe(s.Issuer) + ")"
		}
		if s.IntegratedTime != nil {
			line += ", logged " + s.IntegratedTime.Format(time.RFC3339)
		}
		if !s.Allowed {
			line += ": " + termSafe(s.Error)
		}
		fmt.Fprintln(w, line)
	}
}

// shortSigEntry is an attestation entry's name without its folder, cut to
// 12 characters of the hash (as the signature errors name it).
func shortSigEntry(e string) string {
	e = strings.TrimPrefix(e, "attestations/")
	if len(e) > 12+len(".sigstore.json") {
		return e[:12] + "…"
	}
	return e
}
