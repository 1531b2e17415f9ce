package cli

import (
	"context"
	"time"

	"github.com/evidencerelay/epack/pack"
	"github.com/spf13/cobra"
)

// verifyOptions are the arguments of 'epack verify'.
type verifyOptions struct {
	g    *Globals
	Path string
}

// newCmdVerify builds 'epack verify'; runF runs the parsed options (nil: runVerify).
func newCmdVerify(g *Globals, runF func(context.Context, *verifyOptions) error) *cobra.Command {
	o := &verifyOptions{g: g}
	if runF == nil {
		runF = runVerify
	}
	return &cobra.Command{
		Use:   "verify <pack>",
		Short: "Check a pack's structure, every artifact digest and the pack digest",
		Long: `Verify an evidence pack: every ZIP-safety and structure rule, the manifest,
the size and SHA-256 digest of every artifact, and pack_digest.
Exit status: 0 valid; 2 malformed pack; 11 digest or size mismatch.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runF(cmd.Context(), o)
		},
	}
}

// runVerify checks the pack's structure and every digest.
func runVerify(ctx context.Context, o *verifyOptions) error {
	g, path := o.g, o.Path
	start := time.Now()
	p, err := pack.Open(path)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.VerifyIntegrity(ctx); err != nil {
		return err
	}
	m := p.Manifest()
	var total int64
	for _, a := range m.Artifacts {
		total += a.Size
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{
			"ok": true, "pack": path, "stream": m.Stream, "generated_at": m.GeneratedAt,
			"artifacts": len(m.Artifacts), "artifact_bytes": total, "size_bytes": p.Size(),
			"pack_digest": m.PackDigest, "manifest_digest": p.ManifestDigest(),
			"attestations": p.Attestations(),
		})
		return nil
	}
	g.out("%s Verified %s\n", g.okMark(), path)
	g.out("  stream:          %s\n", termSafe(m.Stream))
	g.out("  artifacts:       %d (%s)\n", len(m.Artifacts), formatSize(total))
	g.out("  pack_digest:     %s\n", m.PackDigest)
	g.out("  manifest_digest: %s\n", p.ManifestDigest())
	if n := len(p.Attestations()); n > 0 {
		g.out("  attestations:    %d (signatures not checked)\n", n)
	}
	if g.Verbose {
		for _, a := range m.Artifacts {
			g.out("  %s %s\n", g.okMark(), termSafe(a.Path))
		}
	}
	g.verbose("verified in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
