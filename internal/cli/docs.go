package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// docsOptions are the arguments of 'epack docs'.
type docsOptions struct {
	g *Globals
}

// newCmdDocs builds 'epack docs'; runF runs the parsed options (nil: runDocs).
func newCmdDocs(g *Globals, runF func(context.Context, *docsOptions) error) *cobra.Command {
	o := &docsOptions{g: g}
	if runF == nil {
		runF = runDocs
	}
	return &cobra.Command{
		Use:    "docs",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runDocs(_ context.Context, _ *docsOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack docs is not available yet")
}
