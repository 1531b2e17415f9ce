package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// listOptions are the arguments of 'epack list'.
type listOptions struct {
	g *Globals
}

// newCmdList builds 'epack list'; runF runs the parsed options (nil: runList).
func newCmdList(g *Globals, runF func(context.Context, *listOptions) error) *cobra.Command {
	o := &listOptions{g: g}
	if runF == nil {
		runF = runList
	}
	return &cobra.Command{
		Use:    "list",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runList(_ context.Context, _ *listOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack list is not available yet")
}
