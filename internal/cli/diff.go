package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// diffOptions are the arguments of 'epack diff'.
type diffOptions struct {
	g *Globals
}

// newCmdDiff builds 'epack diff'; runF runs the parsed options (nil: runDiff).
func newCmdDiff(g *Globals, runF func(context.Context, *diffOptions) error) *cobra.Command {
	o := &diffOptions{g: g}
	if runF == nil {
		runF = runDiff
	}
	return &cobra.Command{
		Use:    "diff",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runDiff(_ context.Context, _ *diffOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack diff is not available yet")
}
