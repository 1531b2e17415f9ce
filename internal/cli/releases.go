package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
)

// releasesOptions are the arguments of 'epack releases'.
type releasesOptions struct {
	g *Globals
}

// newCmdReleases builds 'epack releases'; runF runs the parsed options (nil: runReleases).
func newCmdReleases(g *Globals, runF func(context.Context, *releasesOptions) error) *cobra.Command {
	o := &releasesOptions{g: g}
	if runF == nil {
		runF = runReleases
	}
	return &cobra.Command{
		Use:    "releases",
		Short:  "(being built)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

func runReleases(_ context.Context, _ *releasesOptions) error {
	return errcode.New(errcode.UnsupportedFeature, "epack releases is not available yet")
}
