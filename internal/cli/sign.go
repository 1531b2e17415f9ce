package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/sign"
)

// signOptions are the arguments of 'epack sign'.
type signOptions struct {
	g                   *Globals
	Path                string
	Key                 string
	OIDCToken           string
	FulcioURL, RekorURL string
	TSAURL              string
	AllowCustomSigstore bool
	NoTlog              bool
	DryRun              bool
}

// newCmdSign builds 'epack sign'; runF runs the parsed options (nil: runSign).
func newCmdSign(g *Globals, runF func(context.Context, *signOptions) error) *cobra.Command {
	o := &signOptions{g: g}
	if runF == nil {
		runF = runSign
	}
	cmd := &cobra.Command{
		Use:   "sign <pack>",
		Short: "Sign a pack with a key or keyless (Sigstore), in place",
		Long: `Sign an evidence pack, so verifiers can tell who produced it.

With --key the pack is signed with your private key (EC P-256/P-384, Ed25519
or RSA, PEM). An encrypted key asks for its passphrase on a terminal or reads
EPACK_KEY_PASSWORD. Without --key the signature is keyless: an OIDC identity
token (--oidc-token, EPACK_OIDC_TOKEN, or GitHub Actions' own token when the
job has "permissions: id-token: write") gets a short-lived certificate from
Fulcio, and the signature is recorded in the Rekor transparency log.

The signature is stored as attestations/<id>.sigstore.json in the pack, which
is rewritten atomically; artifacts and the manifest are untouched, so
pack_digest and the manifest digest do not change. Signing again with the
same key replaces its signature; another signer adds one. A pack that does
not verify is never signed.

Exit status: 0 signed; 2 bad input or a pack that does not verify; 1 a
signing service refused.`,
		Example: `  epack sign dist/acme.epack --key keys/ci.pem
  epack verify dist/acme.epack --key keys/ci.pub
  # in GitHub Actions (permissions: id-token: write):
  epack sign dist/acme.epack`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Key, "key", "", "sign with this PEM private key instead of keyless")
	f.StringVar(&o.OIDCToken, "oidc-token", "", "OIDC identity token for keyless signing (default $EPACK_OIDC_TOKEN or the GitHub Actions token)")
	f.StringVar(&o.FulcioURL, "fulcio-url", sign.DefaultFulcioURL, "Fulcio certificate authority (keyless)")
	f.StringVar(&o.RekorURL, "rekor-url", sign.DefaultRekorURL, "Rekor transparency log")
	f.StringVar(&o.TSAURL, "timestamp-url", "", "RFC 3161 timestamp authority to add a signed timestamp (optional)")
	f.BoolVar(&o.AllowCustomSigstore, "allow-custom-sigstore", false, "allow --fulcio-url/--rekor-url/--timestamp-url other than Sigstore's public instance (your identity token is sent there)")
	f.BoolVar(&o.NoTlog, "no-tlog", false, "do not record a key signature in the transparency log")
	f.BoolVar(&o.DryRun, "dry-run", false, "check the pack and the key, write nothing, contact nothing")
	return cmd
}

// runSign signs the pack in place.
func runSign(ctx context.Context, o *signOptions) error {
	g := o.g
	opts := sign.Options{FulcioURL: o.FulcioURL, RekorURL: o.RekorURL, TSAURL: o.TSAURL, NoTlog: o.NoTlog}
	custom := (o.FulcioURL != sign.DefaultFulcioURL && o.Key == "") || (o.RekorURL != sign.DefaultRekorURL && !o.NoTlog) || o.TSAURL != ""
	if custom && !o.AllowCustomSigstore {
		return errcode.New(errcode.InvalidInput, "a signing service other than Sigstore's public instance was named").
			WithHint("add --allow-custom-sigstore to send the signature (and your identity token) to %s", strings.Join(nonEmpty(o.FulcioURL, o.RekorURL, o.TSAURL), ", "))
	}
	if o.Key != "" && o.OIDCToken != "" {
		return errcode.New(errcode.InvalidInput, "--key and --oidc-token cannot be used together").
			WithHint("--key signs with your key; leave it out to sign keyless with the token")
	}
	if o.Key != "" {
		k, err := sign.LoadPrivateKey(o.Key, passphrase(g))
		if err != nil {
			return err
		}
		for _, w := range k.Warnings {
			fmt.Fprintf(g.IO.ErrOut, "Warning: %s\n", termSafe(w))
		}
		opts.Key = k.Signer
	} else if !o.DryRun {
		tok := o.OIDCToken
		if tok == "" {
			var err error
			if tok, err = sign.AmbientToken(ctx, os.Getenv, nil); err != nil {
				return err
			}
		}
		if tok == "" {
			return errcode.New(errcode.InvalidInput, "nothing to sign with: no --key and no OIDC identity token").
				WithHint("give --key <private.pem>, or --oidc-token / %s, or run in GitHub Actions with \"permissions: id-token: write\"", sign.EnvOIDCToken)
		}
		opts.IDToken = tok
	}
	res, err := sign.SignFile(ctx, o.Path, opts, o.DryRun)
	if err != nil {
		return err
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{
			"ok": true, "path": res.Path, "entry": res.Entry, "identity": res.Identity, "kind": res.Kind,
			"replaced": res.Replaced, "dry_run": res.DryRun, "pack_digest": res.PackDigest,
			"manifest_digest": res.ManifestDigest, "manifest_digest_sha256": res.ManifestDigest, "file_digest": res.FileDigest, "signatures": res.Signatures,
		})
		return nil
	}
	verb := "Signed"
	if res.DryRun {
		verb = "Would sign"
	}
	g.out("%s %s %s (%s signature)\n", g.okMark(), verb, res.Path, res.Kind)
	if res.Entry != "" {
		what := "added"
		if res.Replaced {
			what = "replaced this signer's earlier signature"
		}
		g.out("  entry:        %s (%s)\n", res.Entry, what)
	}
	g.out("  signatures:   %d\n", res.Signatures)
	g.out("  pack_digest:  %s (unchanged)\n", res.PackDigest)
	if res.FileDigest != "" && !res.DryRun {
		g.out("  file digest:  %s (new file bytes)\n", res.FileDigest)
	}
	return nil
}

// passphrase asks on the terminal, or reads EPACK_KEY_PASSWORD.
func passphrase(g *Globals) sign.Passphrase {
	return func() ([]byte, error) {
		if pw, ok := os.LookupEnv(sign.EnvKeyPassword); ok {
			return []byte(pw), nil
		}
		f, ok := g.IO.In.(*os.File)
		if !ok || !g.IO.IsStdinTTY() {
			return nil, errcode.New(errcode.InvalidInput, "the key is encrypted and there is no terminal to ask for its passphrase").
				WithHint("set %s", sign.EnvKeyPassword)
		}
		fmt.Fprint(g.IO.ErrOut, "Passphrase for the key: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.IO.ErrOut)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "reading the passphrase")
		}
		return pw, nil
	}
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" && v != sign.DefaultFulcioURL && v != sign.DefaultRekorURL {
			out = append(out, v)
		}
	}
	return out
}
