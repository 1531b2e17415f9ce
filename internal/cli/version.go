package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/internal/version"
)

// versionOptions are the (no) arguments of 'epack version'.
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
		Use:   "version",
		Short: "Show the epack version, commit, Go version and platform",
		Long: `Show the version of this epack binary, the source commit it was built from,
the Go version that built it and the platform it runs on.

The commit is the one set at build time with -ldflags, else the one the go
command recorded from the checkout (vcs.revision, with "-dirty" when the
checkout had uncommitted changes), else "unknown". 'epack --version' prints
the version alone.`,
		Example: `  epack version
  epack version --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runF(cmd.Context(), o)
		},
	}
}

// runVersion prints version.Get() as text or JSON.
func runVersion(_ context.Context, o *versionOptions) error {
	g := o.g
	info := version.Get()
	g.result = info
	if g.JSON {
		writeJSON(g.IO.Out, info)
		return nil
	}
	g.out("epack %s\n", info.Version)
	g.out("  commit:     %s\n", info.Commit)
	g.out("  go version: %s\n", info.GoVersion)
	g.out("  os/arch:    %s/%s\n", info.OS, info.Arch)
	return nil
}
