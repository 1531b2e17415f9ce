package cli

import (
	"context"
	"os"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/lockfile"
	"github.com/spf13/cobra"
)

// lockedEntry is one pinned remote in `epack lock --json`.
type lockedEntry = lockfile.Pinned

// lockOptions are the arguments of 'epack lock'.
type lockOptions struct {
	g       *Globals
	Remotes []string // empty: every remote
}

// newCmdLock builds 'epack lock'; runF runs the parsed options (nil: runLock).
func newCmdLock(g *Globals, runF func(context.Context, *lockOptions) error) *cobra.Command {
	o := &lockOptions{g: g}
	if runF == nil {
		runF = runLock
	}
	return &cobra.Command{
		Use:   "lock [remote...]",
		Short: "Pin the adapter binaries of remotes in epack.lock.yaml",
		Long: `Pin the adapter binary of each remote (all remotes when none is named) by its
SHA-256 digest for the current platform in epack.lock.yaml.

A source: remote is resolved from its GitHub releases (version, commit,
Sigstore signer and a digest per platform of epack.yaml's platforms:). Any
other remote is pinned by hashing the adapter found the way push and pull
find it: binary: from epack.yaml, bundled next to epack, or on PATH; digests
pinned for other platforms are kept. Once pinned, an adapter runs only from a
verified sealed copy, and a changed binary is refused.`,
		Example: `  epack lock
  epack lock origin
  epack lock --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Remotes = args
			return runF(cmd.Context(), o)
		},
	}
}

// runLock pins the remotes through lockfile.Lock and prints what it wrote.
func runLock(ctx context.Context, o *lockOptions) error {
	g := o.g
	cwd, err := os.Getwd()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	res, err := lockfile.Lock(ctx, lockfile.LockOptions{
		ProjectDir: cwd, Remotes: o.Remotes, Source: syncInstallOptions(g), Stderr: g.IO.ErrOut,
	})
	if err != nil {
		return err
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"lockfile": res.LockfilePath, "platform": res.Platform, "locked": res.Locked})
		return nil
	}
	for _, e := range res.Locked {
		state := "pinned"
		switch {
		case e.Previous == "":
		case e.Changed:
			state = "updated"
		default:
			state = "unchanged"
		}
		g.out("%s %s: %s %s (%s, %s)\n", g.okMark(), e.Remote, state, e.Digest, e.Origin, e.Path)
	}
	g.out("Wrote %s for %s\n", res.LockfilePath, res.Platform)
	return nil
}
