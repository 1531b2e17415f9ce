package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/pack"
)

// listOptions are the arguments of 'epack list'.
type listOptions struct {
	g    *Globals
	Path string
	// Long prints full digests (also --verbose).
	Long bool
}

// newCmdList builds 'epack list'; runF runs the parsed options (nil: runList).
func newCmdList(g *Globals, runF func(context.Context, *listOptions) error) *cobra.Command {
	o := &listOptions{g: g}
	if runF == nil {
		runF = runList
	}
	cmd := &cobra.Command{
		Use:   "list [artifacts] <pack>",
		Short: "List a pack's artifacts: path, size, content type and digest",
		Long: `List the artifacts of an evidence pack without unpacking it: manifest path,
size, content type and SHA-256 digest, in manifest order.

The pack is opened with every ZIP-safety and structure rule, like 'epack
inspect'; artifact bytes are not re-hashed (use 'epack verify' for that).
'epack list artifacts <pack>' (the existing tool's spelling) is the same
command. Digests are shortened unless --long or --verbose is given.

--json prints an array of the manifest's artifact objects: type, path,
digest, size and, when the manifest has them, content_type, display_name,
description, collected_at, schema and controls.`,
		Example: `  epack list dist/acme.epack
  epack list artifacts dist/acme.epack --json | jq -r '.[].path'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1:
				return nil
			case len(args) == 2 && args[0] == "artifacts":
				return nil
			case len(args) == 2:
				return usageError(cmd, "cannot list %q: only artifacts can be listed", args[0])
			}
			return usageError(cmd, "accepts 1 pack, received %d argument(s)", len(args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[len(args)-1]
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.Long, "long", "l", false, "show full digests")
	return cmd
}

// runList prints the pack's artifact table (or the artifact array as JSON).
func runList(_ context.Context, o *listOptions) error {
	g := o.g
	p, err := pack.Open(o.Path)
	if err != nil {
		return err
	}
	defer p.Close()
	arts := p.Artifacts()
	if arts == nil {
		arts = []pack.Artifact{}
	}
	if g.JSON {
		writeJSON(g.IO.Out, arts)
		return nil
	}
	if g.Quiet {
		return nil
	}
	w := g.IO.Out
	if len(arts) == 0 {
		fmt.Fprintf(w, "No artifacts in %s\n", termtext.Line(o.Path))
		return nil
	}
	var total int64
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSIZE\tTYPE\tDIGEST")
	for _, a := range arts {
		total += a.Size
		ct := a.ContentType
		if ct == "" {
			ct = "-"
		}
		// Paths and content types are the pack author's text: one line
		// each, control characters (tabs too) escaped.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termtext.Line(a.Path), formatSize(a.Size), termtext.Line(ct), shortDigest(a.Digest, o.Long || g.Verbose))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d artifact(s), %s\n", len(arts), formatSize(total))
	return nil
}
