package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/pull"
	"github.com/spf13/cobra"
)

// pullOptions are the arguments and flags of 'epack pull'.
type pullOptions struct {
	g *Globals

	Remote, Positional                                        string
	Env, Workspace, Output, Digest, Release, Version          string
	Force, Verify, DryRun, Detach, Frozen, AllowUnpinned, Yes bool
	Stream                                                    string
	AllStreams                                                bool
	Parallel                                                  int
}

// pullStream is the stream a pull looks in: --stream, else (unless
// --all-streams) the project's stream: for latest and versions, which
// are per stream. Release ids and digests name one pack anywhere.
func pullStream(f *pullOptions, ref pull.Ref) string {
	switch {
	case f.Stream != "":
		return f.Stream
	case f.AllStreams || ref.Digest != "" || ref.ReleaseID != "":
		return ""
	}
	return projectStream()
}

// newCmdPull builds 'epack pull'; runF runs the parsed options (nil: runPull).
func newCmdPull(g *Globals, runF func(context.Context, *pullOptions) error) *cobra.Command {
	f := &pullOptions{g: g}
	if runF == nil {
		runF = runPull
	}
	cmd := &cobra.Command{
		Use:   "pull <remote> [ref]",
		Short: "Fetch a pack from a remote registry and verify it",
		Long: `Fetch an evidence pack from a remote registry.

The pack is downloaded into a temporary file beside the output, its size and
SHA-256 are checked against what the registry announced, the whole pack is
verified, and only then is it moved into place. An existing output file is
replaced only with --force, and is never lost when anything fails.

The optional [ref] is a digest (sha256:…: the file digest, or the pack digest
when the registry can list releases), a release id (rel_…) or a version; without it the latest release is pulled. --digest, --release and
--version take precedence over [ref], in that order.

Latest and versions are looked up in the project's stream (stream: in
epack.yaml), or the one --stream names; --all-streams looks across every
stream of the remote's workspace and environment. A version is a label of
the form vMAJOR.MINOR.PATCH (e.g. 'epack push local p.epack --label v1.0.0').

<remote> may instead be a registry location, for a machine without
epack.yaml (an auditor's): a folder or file:///path, s3://bucket/prefix?region=…,
or oci://registry/namespace?ca_file=…; each takes ?workspace=…&environment=….
Only the adapter bundled with this epack is run for a location.`,
		Example: `  epack pull local
  epack pull origin rel_01JD2W3K9Q -o evidence.epack
  epack pull origin --version v1.2.0 --force --json
  epack pull oci://ghcr.io/acme/evidence --stream acme/prod --version v1.2.0`,
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
			if err := refuseBlankFlags(cmd, "workspace", "env"); err != nil {
				return err
			}
			f.Remote = args[0]
			if len(args) == 2 {
				f.Positional = args[1]
			}
			return runF(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.StringVar(&f.Workspace, "workspace", "", "override the source workspace")
	fl.StringVarP(&f.Output, "output", "o", "", "output file (default ./<stream>.epack)")
	fl.StringVar(&f.Digest, "digest", "", "pull the pack with this file digest or pack digest (sha256:…)")
	fl.StringVar(&f.Release, "release", "", "pull this release id")
	fl.StringVar(&f.Version, "version", "", "pull this version (a vMAJOR.MINOR.PATCH label)")
	fl.StringVar(&f.Stream, "stream", "", "look in this stream (default: stream: in epack.yaml)")
	fl.BoolVar(&f.AllStreams, "all-streams", false, "look across every stream, not only the project's")
	fl.BoolVar(&f.Force, "force", false, "replace an existing output file (only after the new pack is verified)")
	fl.BoolVar(&f.Verify, "verify", true, "verify the whole pack after download (--verify=false skips it; the file digest is always checked)")
	fl.BoolVar(&f.DryRun, "dry-run", false, "show what would be pulled without calling the remote")
	fl.BoolVarP(&f.Detach, "detach", "d", false, "run in the background; see 'epack jobs'")
	fl.BoolVar(&f.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVarP(&f.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&f.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	fl.IntVar(&f.Parallel, "parallel", 4, "ranges of a large pack downloaded at once (1: one stream)")
	return cmd
}

// pullRef applies the precedence --digest > --release > --version > positional > latest.
func pullRef(f *pullOptions, positional string) pull.Ref {
	switch {
	case f.Digest != "":
		return pull.Ref{Digest: f.Digest}
	case f.Release != "":
		return pull.Ref{ReleaseID: f.Release}
	case f.Version != "":
		return pull.Ref{Version: f.Version}
	case strings.HasPrefix(positional, "sha256:") && len(positional) > 7:
		return pull.Ref{Digest: positional}
	case strings.HasPrefix(positional, "rel_") && len(positional) > 4:
		return pull.Ref{ReleaseID: positional}
	case positional != "":
		return pull.Ref{Version: positional}
	}
	return pull.Ref{Latest: true}
}

// runPull fetches and verifies the pack (or does a dry run, or starts a
// detached pull).
func runPull(ctx context.Context, f *pullOptions) error {
	g, remoteName, positional := f.g, f.Remote, f.Positional
	if _, err := execPolicy(f.Frozen, f.AllowUnpinned, "pull_cli").Check(nil); err != nil {
		return err
	}
	if f.Parallel < 1 || f.Parallel > 64 {
		return errcode.New(errcode.InvalidInput, "--parallel %d is out of 1..64", f.Parallel)
	}
	ref := pullRef(f, positional)
	output := f.Output
	if output != "" {
		abs, err := filepath.Abs(output)
		if err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "output path %q", output)
		}
		output = abs
	}
	if f.Stream != "" && f.AllStreams {
		return errcode.New(errcode.InvalidInput, "--stream and --all-streams cannot be used together")
	}
	if f.DryRun && workflow.IsLocation(remoteName) {
		return errcode.New(errcode.InvalidInput, "--dry-run needs a remote from epack.yaml").
			WithHint("run the pull itself: nothing is replaced unless it verifies")
	}
	if f.DryRun {
		cwd, _ := os.Getwd()
		project, err := config.LoadProject(cwd)
		if err != nil {
			return err
		}
		rc, err := project.Config.ResolveRemote(remoteName, f.Env)
		if err != nil {
			return err
		}
		workspace := rc.Target.Workspace
		if f.Workspace != "" {
			workspace = f.Workspace
		}
		out := map[string]any{"dry_run": true, "remote": remoteName, "ref": ref.String(), "output": output,
			"workspace": workspace, "environment": rc.Target.Environment, "force": f.Force, "verify": f.Verify}
		g.result = out
		if g.JSON {
			writeJSON(g.IO.Out, out)
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
		if f.Env != "" {
			g.out("  Config env:   %s\n", f.Env)
		}
		g.out("\nDestination:\n  Output:       %s\n  Force:        %v\n\nOptions:\n  Verify:       %v\n", shown, f.Force, f.Verify)
		return nil
	}
	if f.Detach {
		args := childArgs{remoteName}
		args.opt("--env", f.Env)
		args.opt("--workspace", f.Workspace)
		args.opt("--output", output)
		args.opt("--digest", ref.Digest)
		args.opt("--release", ref.ReleaseID)
		args.opt("--version", ref.Version)
		args.opt("--stream", f.Stream)
		args.flag("--all-streams", f.AllStreams)
		args.flag("--force", f.Force)
		args.flag("--verify=false", !f.Verify)
		if f.Parallel != 4 {
			args.opt("--parallel", strconv.Itoa(f.Parallel))
		}
		return args.detach(g, "pull", f.Frozen, f.AllowUnpinned)
	}

	dir, err := workingDir()
	if err != nil {
		return err
	}
	ui := newStepUI(g, "Downloading")
	defer ui.Close()
	verify := f.Verify
	opts := pull.Options{
		Remote: remoteName, Environment: f.Env, Workspace: f.Workspace, Ref: ref, Output: output, Stream: pullStream(f, ref),
		Force: f.Force, Verify: &verify, NonInteractive: !f.Yes && !canPrompt(g), Stderr: g.IO.ErrOut,
		OnStep: ui.Step, OnDownloadProgress: ui.Progress, PromptInstallAdapter: installPrompt(g, f.Yes),
		ProjectDir: dir, NoRedact: g.NoRedact, Parallel: f.Parallel,
	}
	pol := execPolicy(f.Frozen, f.AllowUnpinned, "")
	opts.Secure.Frozen, opts.Secure.StrictProduction = pol.Frozen, pol.StrictProduction
	opts.Unsafe.AllowUnpinned = pol.AllowUnpinned
	start := time.Now()
	res, err := pull.Pull(ctx, opts)
	if err != nil {
		ui.Fail()
		var pe *protocol.Error
		if opts.Stream != "" && f.Stream == "" && errors.As(err, &pe) && pe.Code == protocol.CodeNotFound {
			return errcode.Wrap(errcode.Of(err), err, "no matching release in stream %q", opts.Stream).
				WithHint("only the project's stream %q was searched; name another with --stream, or use --all-streams", opts.Stream)
		}
		return err
	}
	// digest and size are the existing tool's keys (COMPAT §8.2);
	// file_digest, size_bytes and pack_digest are the names every other
	// command uses.
	out := map[string]any{"pulled": true, "remote": remoteName, "output_path": res.OutputPath, "digest": res.Digest,
		"size": res.SizeBytes, "stream": res.Stream, "release_id": res.ReleaseID, "version": res.Version,
		"verified": res.Verified, "receipt_path": res.ReceiptPath,
		"file_digest": res.Digest, "size_bytes": res.SizeBytes, "pack_digest": res.PackDigest}
	if res.FinalizeWarning != nil {
		out["finalize_warning"] = res.FinalizeWarning.Error()
	}
	if res.Retention != nil {
		out["retention"] = res.Retention // how long the registry keeps the release (Object Lock)
	}
	g.result = out
	if g.JSON {
		writeJSON(g.IO.Out, out)
		return nil
	}
	g.out("\n%s Pulled from %s in %s\n\nPack:\n  Stream:      %s\n  Size:        %s\n", g.okMark(), remoteName, formatDuration(time.Since(start)), adapterText(res.Stream), formatSize(res.SizeBytes))
	if res.Version != "" {
		g.out("  Version:     %s\n", adapterText(res.Version))
	}
	if res.ReleaseID != "" {
		g.out("  Release:     %s\n", adapterText(res.ReleaseID))
	}
	g.out("  File digest: %s\n", adapterText(res.Digest))
	if res.PackDigest != "" {
		g.out("  Pack digest: %s\n", adapterText(res.PackDigest))
	}
	if res.Retention != nil {
		g.out("  %s\n", adapterText(res.Retention.Summary()))
	}
	if res.Verified {
		g.out("  %s Verified\n", g.okMark())
	}
	g.out("\nOutput:  %s\nReceipt: %s\n\nNext steps:\n  •  epack inspect %s\n  •  epack verify %s\n", res.OutputPath, res.ReceiptPath, res.OutputPath, res.OutputPath)
	return nil
}
