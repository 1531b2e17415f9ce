package cli

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pull"
	"github.com/evidencerelay/epack/remote"
	"github.com/spf13/cobra"
)

func init() { register(21, newPullCmd) }

type pullFlags struct {
	env, workspace, output, digest, release, version          string
	force, verify, dryRun, detach, frozen, allowUnpinned, yes bool
}

func newPullCmd(g *Globals) *cobra.Command {
	var f pullFlags
	cmd := &cobra.Command{
		Use:   "pull <remote> [ref]",
		Short: "Fetch a pack from a remote registry and verify it",
		Long: `Fetch an evidence pack from a remote registry.

The pack is downloaded into a temporary file beside the output, its size and
SHA-256 are checked against what the registry announced, the whole pack is
verified, and only then is it moved into place. An existing output file is
replaced only with --force, and is never lost when anything fails.

The optional [ref] is a file digest (sha256:…), a release id (rel_…) or a
version; without it the latest release is pulled. --digest, --release and
--version take precedence over [ref], in that order.`,
		Example: `  epack pull local
  epack pull origin rel_01JD2W3K9Q -o evidence.epack
  epack pull origin --version v1.2.0 --force --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return errcode.New(errcode.InvalidInput, "missing remote name argument").WithHint("usage: %s", cmd.UseLine())
			}
			if len(args) > 2 {
				return errcode.New(errcode.InvalidInput, "too many arguments: expected 1-2, got %d", len(args)).WithHint("usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			positional := ""
			if len(args) == 2 {
				positional = args[1]
			}
			return runPull(cmd, g, &f, args[0], positional)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.StringVar(&f.workspace, "workspace", "", "override the source workspace")
	fl.StringVarP(&f.output, "output", "o", "", "output file (default ./<stream>.epack)")
	fl.StringVar(&f.digest, "digest", "", "pull the pack with this file digest (sha256:…)")
	fl.StringVar(&f.release, "release", "", "pull this release id")
	fl.StringVar(&f.version, "version", "", "pull this version")
	fl.BoolVar(&f.force, "force", false, "replace an existing output file (only after the new pack is verified)")
	fl.BoolVar(&f.verify, "verify", true, "verify the whole pack after download (--verify=false skips it; the file digest is always checked)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show what would be pulled without calling the remote")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run in the background; see 'epack jobs'")
	fl.BoolVar(&f.frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVarP(&f.yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&f.allowUnpinned, "insecure-allow-unpinned", remote.AllowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	return cmd
}

// pullRef applies the precedence --digest > --release > --version > positional > latest.
func pullRef(f *pullFlags, positional string) pull.Ref {
	switch {
	case f.digest != "":
		return pull.Ref{Digest: f.digest}
	case f.release != "":
		return pull.Ref{ReleaseID: f.release}
	case f.version != "":
		return pull.Ref{Version: f.version}
	case strings.HasPrefix(positional, "sha256:") && len(positional) > 7:
		return pull.Ref{Digest: positional}
	case strings.HasPrefix(positional, "rel_") && len(positional) > 4:
		return pull.Ref{ReleaseID: positional}
	case positional != "":
		return pull.Ref{Version: positional}
	}
	return pull.Ref{Latest: true}
}

func runPull(cmd *cobra.Command, g *Globals, f *pullFlags, remoteName, positional string) error {
	if err := refuseBlankFlags(cmd, "workspace", "env"); err != nil {
		return err
	}
	if _, err := (remote.Policy{Frozen: f.frozen, AllowUnpinned: f.allowUnpinned, Component: "pull_cli"}).Check(nil); err != nil {
		return err
	}
	ref := pullRef(f, positional)
	output := f.output
	if output != "" {
		abs, err := filepath.Abs(output)
		if err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "output path %q", output)
		}
		output = abs
	}
	if f.dryRun {
		cwd, _ := os.Getwd()
		project, err := config.LoadProject(cwd)
		if err != nil {
			return err
		}
		rc, err := project.Config.ResolveRemote(remoteName, f.env)
		if err != nil {
			return err
		}
		workspace := rc.Target.Workspace
		if f.workspace != "" {
			workspace = f.workspace
		}
		out := map[string]any{"dry_run": true, "remote": remoteName, "ref": ref.String(), "output": output,
			"workspace": workspace, "environment": rc.Target.Environment, "force": f.force, "verify": f.verify}
		g.result = out
		if g.JSON {
			writeJSON(g.Stdout, out)
			return nil
		}
		shown := output
		if shown == "" {
			shown = "./<stream>.epack (auto-generated)"
		}
		g.out("Would pull from %s\n\nSource:\n  Remote:       %s\n  Reference:    %s\n", remoteName, remoteName, ref.String())
		if workspace != "" {
			g.out("  Workspace:    %s\n", workspace)
		}
		if rc.Target.Environment != "" {
			g.out("  Environment:  %s\n", rc.Target.Environment)
		}
		if f.env != "" {
			g.out("  Config env:   %s\n", f.env)
		}
		g.out("\nDestination:\n  Output:       %s\n  Force:        %v\n\nOptions:\n  Verify:       %v\n", shown, f.force, f.verify)
		return nil
	}
	if f.detach {
		args := childArgs{remoteName}
		args.opt("--env", f.env)
		args.opt("--workspace", f.workspace)
		args.opt("--output", output)
		args.opt("--digest", ref.Digest)
		args.opt("--release", ref.ReleaseID)
		args.opt("--version", ref.Version)
		args.flag("--force", f.force)
		args.flag("--verify=false", !f.verify)
		return args.detach(g, "pull", f.frozen, f.allowUnpinned)
	}

	ui := newStepUI(g, "Downloading")
	defer ui.Close()
	verify := f.verify
	opts := pull.Options{
		Remote: remoteName, Environment: f.env, Workspace: f.workspace, Ref: ref, Output: output,
		Force: f.force, Verify: &verify, NonInteractive: !f.yes && !canPrompt(g), Stderr: g.Stderr,
		OnStep: ui.Step, OnDownloadProgress: ui.Progress, PromptInstallAdapter: installPrompt(g, f.yes),
	}
	opts.Secure.Frozen = f.frozen
	opts.Unsafe.AllowUnpinned = f.allowUnpinned
	start := time.Now()
	res, err := pull.Pull(cmd.Context(), opts)
	if err != nil {
		ui.Fail()
		return err
	}
	out := map[string]any{"pulled": true, "remote": remoteName, "output_path": res.OutputPath, "digest": res.Digest,
		"size": res.SizeBytes, "stream": res.Stream, "release_id": res.ReleaseID, "version": res.Version,
		"verified": res.Verified, "receipt_path": res.ReceiptPath}
	if res.FinalizeWarning != "" {
		out["finalize_warning"] = res.FinalizeWarning
	}
	g.result = out
	if g.JSON {
		writeJSON(g.Stdout, out)
		return nil
	}
	g.out("\n%s Pulled from %s in %s\n\nPack:\n  Stream:   %s\n  Size:     %s\n", g.okMark(), remoteName, formatDuration(time.Since(start)), adapterText(res.Stream), formatSize(res.SizeBytes))
	if res.Version != "" {
		g.out("  Version:  %s\n", adapterText(res.Version))
	}
	if res.ReleaseID != "" {
		g.out("  Release:  %s\n", adapterText(res.ReleaseID))
	}
	g.out("  Digest:   %s\n", adapterText(res.Digest))
	if res.Verified {
		g.out("  %s Verified\n", g.okMark())
	}
	g.out("\nOutput:  %s\nReceipt: %s\n\nNext steps:\n  •  epack inspect %s\n  •  epack verify %s\n", res.OutputPath, res.ReceiptPath, res.OutputPath, res.OutputPath)
	return nil
}
