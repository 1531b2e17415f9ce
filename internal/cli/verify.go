package cli

import (
	"time"

	"github.com/evidencerelay/epack/pack"
	"github.com/spf13/cobra"
)

func init() { register(11, newVerifyCmd) }

func newVerifyCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify <pack>",
		Short: "Check a pack's structure, every artifact digest and the pack digest",
		Long: `Verify an evidence pack: every ZIP-safety and structure rule, the manifest,
the size and SHA-256 digest of every artifact, and pack_digest.
Exit status: 0 valid; 2 malformed pack; 11 digest or size mismatch.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, g, args[0])
		},
	}
}

func runVerify(cmd *cobra.Command, g *Globals, path string) error {
	start := time.Now()
	p, err := pack.Open(path)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.VerifyIntegrity(cmd.Context()); err != nil {
		return err
	}
	m := p.Manifest()
	var total int64
	for _, a := range m.Artifacts {
		total += a.Size
	}
	if g.JSON {
		writeJSON(g.Stdout, map[string]any{
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
