package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/lockfile"
	"github.com/spf13/cobra"
)

// syncInstallOptions builds the sourceinstall options of `epack lock` and
// `epack sync`. Tests replace it to point at a local GitHub API and a
// virtual Sigstore.
var syncInstallOptions = func(g *Globals) sourceinstall.Options {
	return sourceinstall.Options{Stderr: g.IO.ErrOut}
}

// syncEntry is one remote in `epack sync --json`.
type syncEntry = lockfile.Synced

// syncOptions are the arguments and flags of 'epack sync'.
type syncOptions struct {
	g *Globals

	Remotes                    []string // empty: every source remote
	Frozen, InsecureSkipVerify bool
}

// newCmdSync builds 'epack sync'; runF runs the parsed options (nil: runSync).
func newCmdSync(g *Globals, runF func(context.Context, *syncOptions) error) *cobra.Command {
	o := &syncOptions{g: g}
	if runF == nil {
		runF = runSync
	}
	cmd := &cobra.Command{
		Use:   "sync [remote...]",
		Short: "Install the source adapters pinned in epack.lock.yaml",
		Long: `Install the adapter of each source remote (all remotes with 'source:' when
none is named) as pinned in epack.lock.yaml, for the current platform, into
.epack/remotes/<remote>/<version>/<os>-<arch>/epack-remote-<adapter>.

The release asset is downloaded from GitHub ($GITHUB_API_URL, default
https://api.github.com; $GITHUB_TOKEN is used when set), its SHA-256 must
equal the pinned digest, and its Sigstore bundle must verify against the
Sigstore public-good root for the source repository and release tag
(issuer https://token.actions.githubusercontent.com). Only then does the
file become executable.

A remote missing from epack.lock.yaml, or whose lock entry no longer
matches epack.yaml (another repository, or a version outside the
constraint), is locked first, like 'epack lock'. With --frozen the lockfile
is never changed: a missing or stale lockfile is an error.`,
		Example: `  epack sync
  epack sync origin
  epack sync --frozen --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Remotes = args
			return runF(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Frozen, "frozen", false, "fail when epack.lock.yaml is missing or stale instead of updating it")
	fl.BoolVar(&o.InsecureSkipVerify, "insecure-skip-verify", false, "install without Sigstore verification (digest still checked; leaves an .insecure-install marker that push and pull refuse)")
	return cmd
}

// runSync installs the source adapters through lockfile.Sync, reporting
// each remote as it finishes.
func runSync(ctx context.Context, o *syncOptions) error {
	g := o.g
	cwd, err := os.Getwd()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	res, err := lockfile.Sync(ctx, lockfile.SyncOptions{
		ProjectDir: cwd, Remotes: o.Remotes, Frozen: o.Frozen, InsecureSkipVerify: o.InsecureSkipVerify,
		StrictProduction: strictProduction(),
		Source:           syncInstallOptions(g), Stderr: g.IO.ErrOut,
		OnLocking:    func(name, source string) { g.info("Locking %s (%s)…\n", name, source) },
		OnInstalling: func(name string) { g.verbose("Installing %s…\n", name) },
		OnInstalled:  func(r lockfile.InstallReport) { printSynced(g, r) },
	})
	if err != nil {
		return err
	}
	if !g.JSON && len(res.Synced) == 0 {
		g.out("No source remotes in %s; nothing to sync.\n", res.ConfigPath)
		return nil
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"lockfile": res.LockfilePath, "platform": res.Platform, "synced": res.Synced})
	}
	return nil
}

// printSynced prints one remote's install: a line on stdout, or with
// several remotes a failure line on stderr (the errors are reported
// together at the end).
func printSynced(g *Globals, r lockfile.InstallReport) {
	if r.Err != nil {
		if !g.JSON && !g.Quiet && r.Total > 1 {
			fmt.Fprintf(g.IO.ErrOut, "%s %s: %v\n", g.failMark(), r.Remote, r.Err)
		}
		return
	}
	e := r.Synced
	state := "installed"
	if !e.Installed {
		state = "already installed"
	}
	how := "verified"
	if !e.Verified {
		how = "NOT VERIFIED"
	}
	g.out("%s %s: %s %s %s (%s, %s) %s\n", g.okMark(), e.Remote, state, e.Adapter, e.Version, e.Platform, how, e.Path)
}
