package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// extractOptions are the arguments of 'epack extract'.
type extractOptions struct {
	g *Globals
}

// newCmdExtract builds 'epack extract'; runF runs the parsed options (nil: runExtract).
func newCmdExtract(g *Globals, runF func(context.Context, *extractOptions) error) *cobra.Command {
	o := &extractOptions{g: g}
	if runF == nil {
		runF = runExtract
	}
	return &cobra.Command{
		Use:    "extract",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runExtract(_ context.Context, _ *extractOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack extract is not available yet")
}
