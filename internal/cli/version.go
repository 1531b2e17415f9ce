package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// versionOptions are the arguments of 'epack version'.
type versionOptions struct {
	g *Globals
}

// newCmdVersion builds 'epack version'; runF runs the parsed options (nil: runVersion).
func newCmdVersion(g *Globals, runF func(context.Context, *versionOptions) error) *cobra.Command {
	o := &versionOptions{g: g}
	if runF == nil {
		runF = runVersion
	}
	return &cobra.Command{
		Use:    "version",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runVersion(_ context.Context, _ *versionOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack version is not available yet")
}
