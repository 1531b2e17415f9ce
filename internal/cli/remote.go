package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/remote"
	"github.com/spf13/cobra"
)

// newCmdRemote builds 'epack remote' with its subcommands; listF and
// whoamiF run their parsed options (nil: runRemoteList, runRemoteWhoami).
func newCmdRemote(g *Globals, listF func(context.Context, *remoteListOptions) error, whoamiF func(context.Context, *whoamiOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remote",
		Short: "List remotes and check who their adapters act as",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdRemoteList(g, listF), newCmdRemoteWhoami(g, whoamiF))
	return cmd
}

// remoteListEntry is one remote in `epack remote list --json` (COMPAT §8.3,
// plus where its adapter resolves).
type remoteListEntry struct {
	Name             string `json:"name"`
	Adapter          string `json:"adapter"`
	Source           string `json:"source,omitempty"`
	Binary           string `json:"binary,omitempty"`
	Workspace        string `json:"workspace,omitempty"`
	Environment      string `json:"environment,omitempty"`
	InsecureEndpoint string `json:"insecure_endpoint,omitempty"`
	Status           string `json:"status,omitempty"`
	AdapterPath      string `json:"adapter_path,omitempty"`
	AdapterOrigin    string `json:"adapter_origin,omitempty"`
	PinnedDigest     string `json:"pinned_digest,omitempty"`
}

// remoteListOptions are the (no) arguments of 'epack remote list'.
type remoteListOptions struct {
	g *Globals
}

// newCmdRemoteList builds 'epack remote list'.
func newCmdRemoteList(g *Globals, runF func(context.Context, *remoteListOptions) error) *cobra.Command {
	o := &remoteListOptions{g: g}
	if runF == nil {
		runF = runRemoteList
	}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the remotes configured in epack.yaml",
		Long: `List the remotes configured in epack.yaml (base configuration, without
environment overrides), sorted by name, with where each adapter resolves and
whether it is pinned in epack.lock.yaml.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
}

func loadProjectHere() (*config.Project, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	return config.LoadProject(cwd)
}

func sortedRemoteNames(c *config.Config) []string {
	names := make([]string, 0, len(c.Remotes))
	for n := range c.Remotes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const remoteExample = `Add one to epack.yaml, for example:

  remotes:
    local:
      adapter: filesystem
      transport:
        file_root: .epack/registry
`

// runRemoteList prints the configured remotes and where their adapters resolve.
func runRemoteList(_ context.Context, o *remoteListOptions) error {
	g := o.g
	project, err := loadProjectHere()
	if err != nil {
		return err
	}
	lock, lerr := config.LoadLock(project.Root)
	entries := []remoteListEntry{}
	for _, name := range sortedRemoteNames(project.Config) {
		r, err := project.Config.ResolveRemote(name, "")
		if err != nil {
			return err
		}
		e := remoteListEntry{Name: name, Adapter: r.AdapterName(), Source: r.Source, Binary: r.Binary,
			Workspace: r.Target.Workspace, Environment: r.Target.Environment, InsecureEndpoint: r.InsecureEndpoint}
		if lerr == nil {
			if res, err := remote.Resolve(project.Root, r, lock); err == nil {
				e.Status, e.AdapterPath, e.AdapterOrigin, e.PinnedDigest = string(res.Status), res.Path, res.Origin, res.PinnedDigest
			}
		}
		entries = append(entries, e)
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"remotes": entries})
		return nil
	}
	if len(entries) == 0 {
		g.out("No remotes configured.\n\n%s", remoteExample)
		return nil
	}
	g.out("Configured Remotes\n")
	for _, e := range entries {
		g.out("\n  %s\n", e.Name)
		switch {
		case e.Source != "":
			g.out("    Adapter:     %s (source)\n    Source:      %s\n", e.Adapter, e.Source)
		case e.Binary != "":
			g.out("    Adapter:     %s (external)\n    Binary:      %s\n", e.Adapter, e.Binary)
		default:
			g.out("    Adapter:     %s\n", e.Adapter)
		}
		if e.Workspace != "" {
			g.out("    Workspace:   %s\n", e.Workspace)
		}
		if e.Environment != "" {
			g.out("    Environment: %s\n", e.Environment)
		}
		if e.InsecureEndpoint != "" {
			g.out("    Endpoint:    %s (insecure override)\n", e.InsecureEndpoint)
		}
		if e.Status != "" {
			where := ""
			if e.AdapterPath != "" {
				where = fmt.Sprintf(" — %s (%s)", e.AdapterPath, e.AdapterOrigin)
			}
			g.out("    Status:      %s%s\n", e.Status, where)
		}
	}
	if lerr != nil {
		g.info("warning: %v\n", lerr)
	}
	return nil
}

// whoamiEntry is one remote in `epack remote whoami --json` (COMPAT §8.4).
type whoamiEntry struct {
	Remote        string `json:"remote"`
	Authenticated bool   `json:"authenticated"`
	Subject       string `json:"subject,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	ExpiresAt     string `json:"expires_at,omitempty"`
	Error         string `json:"error,omitempty"`
	Supported     bool   `json:"supported"`

	err error
}

// whoamiOptions are the arguments and flags of 'epack remote whoami'.
type whoamiOptions struct {
	g *Globals

	Remotes               []string // the one remote named; empty asks every remote
	Frozen, AllowUnpinned bool
}

// newCmdRemoteWhoami builds 'epack remote whoami'.
func newCmdRemoteWhoami(g *Globals, runF func(context.Context, *whoamiOptions) error) *cobra.Command {
	o := &whoamiOptions{g: g}
	if runF == nil {
		runF = runRemoteWhoami
	}
	cmd := &cobra.Command{
		Use:   "whoami [remote]",
		Short: "Show who each remote's adapter is authenticated as",
		Long: `Ask each remote's adapter (or only the named one) who it acts as.

Adapters run under the same rules as push and pull: pinned adapters run from a
verified sealed copy, unpinned ones only with --insecure-allow-unpinned.
The exit status is non-zero when an adapter could not be run or failed;
an adapter that does not support whoami, or is not authenticated, is not an
error.`,
		Example: `  epack remote whoami
  epack remote whoami origin --json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Remotes = args
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	cmd.Flags().BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run adapters that are not pinned in epack.lock.yaml (audited)")
	return cmd
}

// runRemoteWhoami asks each selected remote's adapter who it acts as.
func runRemoteWhoami(ctx context.Context, o *whoamiOptions) error {
	g := o.g
	pol := execPolicy(o.Frozen, o.AllowUnpinned, "whoami_cli")
	project, err := loadProjectHere()
	if err != nil {
		return err
	}
	names := sortedRemoteNames(project.Config)
	if len(o.Remotes) == 1 {
		name := o.Remotes[0]
		if _, ok := project.Config.Remotes[name]; !ok {
			return errcode.New(errcode.RemoteNotFound, "remote %q not found in config", name).
				WithHint("run 'epack remote list' to see the configured remotes")
		}
		names = []string{name}
	}
	remotes := make([]*config.Remote, 0, len(names))
	for _, n := range names {
		r, err := project.Config.ResolveRemote(n, "")
		if err != nil {
			return err
		}
		// Flag-level policy (frozen/unpinned, strict production and custom
		// endpoints) covers every selected remote before anything runs.
		if _, err := pol.Check(r); err != nil {
			return err
		}
		remotes = append(remotes, r)
	}
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return err
	}
	var stderr io.Writer = g.IO.ErrOut
	if g.Quiet {
		stderr = io.Discard
	}
	ids := []whoamiEntry{}
	var firstErr error
	for _, r := range remotes {
		e := whoamiOne(ctx, g, project, lock, r, pol, stderr)
		if e.err != nil && firstErr == nil {
			firstErr = e.err
		}
		ids = append(ids, e)
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"identities": ids})
	} else {
		printWhoami(g, ids)
	}
	if firstErr != nil {
		return &exitError{code: exitstatus.Of(firstErr)}
	}
	return nil
}

func whoamiOne(ctx context.Context, g *Globals, project *config.Project, lock *config.LockFile, r *config.Remote, pol remote.Policy, stderr io.Writer) whoamiEntry {
	e := whoamiEntry{Remote: r.Name}
	s, err := remote.Open(ctx, remote.SessionOptions{
		ProjectRoot: project.Root, Remote: r, Lock: lock, Policy: pol,
		Stderr: stderr, NoRedact: g.NoRedact, Prompt: installPrompt(g, false),
	})
	if err != nil {
		e.Error, e.err = errText(err), err
		return e
	}
	defer s.Close()
	const unsupported = "adapter does not support whoami"
	if !s.Capabilities().Features.Whoami {
		e.Error = unsupported
		return e
	}
	resp, err := s.Whoami(ctx)
	if remote.IsUnsupported(err) {
		// It announced whoami but answered unsupported_protocol, as adapters
		// built with the existing tool's SDK do: the same as not announcing it.
		e.Error = unsupported
		return e
	}
	e.Supported = true
	if err != nil {
		e.Error, e.err = errText(err), err
		return e
	}
	e.Authenticated, e.Subject, e.Issuer, e.ExpiresAt = resp.Identity.Authenticated, resp.Identity.Subject, resp.Identity.Issuer, resp.Identity.ExpiresAt
	return e
}

// errText is the error message with its hint, for per-remote reports.
func errText(err error) string {
	msg := err.Error()
	if h := errcode.HintOf(err); h != "" {
		msg += " (hint: " + h + ")"
	}
	return msg
}

func printWhoami(g *Globals, ids []whoamiEntry) {
	if len(ids) == 0 {
		g.out("No remotes configured.\n\n%s", remoteExample)
		return
	}
	if len(ids) > 1 {
		g.out("Authentication Status\n\n")
	}
	for _, e := range ids {
		switch {
		case e.err != nil || (e.Error != "" && e.Supported):
			// Errors go to stderr so they are seen even with --quiet.
			fmt.Fprintf(g.IO.ErrOut, "%s %s: %s\n", g.failMark(), e.Remote, adapterText(e.Error))
		case !e.Supported:
			g.out("? %s: whoami not supported by adapter\n", e.Remote)
		case e.Authenticated:
			g.out("%s Authenticated to %s\n", g.okMark(), e.Remote)
			if len(ids) == 1 {
				if e.Subject != "" {
					g.out("  Subject: %s\n", adapterText(e.Subject))
				}
				if e.Issuer != "" {
					g.out("  Issuer:  %s\n", adapterText(e.Issuer))
				}
				if e.ExpiresAt != "" {
					g.out("  Expires: %s\n", adapterText(e.ExpiresAt))
				}
			} else if e.Subject != "" {
				g.out("  Subject: %s\n", adapterText(e.Subject))
			}
		default:
			g.out("○ Not authenticated to %s\n", e.Remote)
			if len(ids) == 1 {
				g.out("  Credentials are checked by the adapter; see its documentation, then run 'epack push %s <pack.epack>'.\n", e.Remote)
			}
		}
	}
}
