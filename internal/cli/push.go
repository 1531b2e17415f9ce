package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/push"
	"github.com/evidencerelay/epack/remote"
	xfer "github.com/evidencerelay/epack/transfer"
	"github.com/spf13/cobra"
)

// pushOptions are the arguments and flags of 'epack push'.
type pushOptions struct {
	g *Globals

	Remote, PackArg               string
	Env, Workspace, Notes, Retain string
	Labels, RunsPaths             []string
	NoRuns, Yes, DryRun           bool
	Detach, Frozen, AllowUnpinned bool
	Parallel                      int
	PartSize                      byteSize
}

// newCmdPush builds 'epack push'; runF runs the parsed options (nil: runPush).
func newCmdPush(g *Globals, runF func(context.Context, *pushOptions) error) *cobra.Command {
	o := &pushOptions{g: g}
	if runF == nil {
		runF = runPush
	}
	cmd := &cobra.Command{
		Use:   "push <remote> <pack>",
		Short: "Verify a pack and publish it to a remote registry",
		Long: `Verify an evidence pack and publish it to a remote registry.

The pack is verified (every artifact digest, the pack digest and the manifest
digest), the remote is loaded from epack.yaml, its adapter is resolved and
checked against epack.lock.yaml, then the adapter is asked for an upload
target, the pack is uploaded, the release is created, run results found next
to the pack (<pack>.runs/) are synced, and a receipt is written to
.epack/receipts/push/<remote>/.

--runs-path patterns are relative to the current directory; runs.paths in
epack.yaml are relative to the pack's .runs folder.`,
		Example: `  epack push local dist/acme.epack
  epack push origin dist/acme.epack --label monthly --label soc2 --env prod
  epack push origin dist/acme.epack --frozen --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errcode.New(errcode.InvalidInput, "missing arguments: expected <remote> <pack>").WithHint("usage: %s", cmd.UseLine())
			}
			if len(args) > 2 {
				return errcode.New(errcode.InvalidInput, "too many arguments: expected 2, got %d", len(args)).WithHint("usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "workspace", "env"); err != nil {
				return err
			}
			o.Remote, o.PackArg = args[0], args[1]
			return runF(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.StringVar(&o.Workspace, "workspace", "", "override the target workspace")
	fl.StringSliceVar(&o.Labels, "label", nil, "release label (repeatable; commas split)")
	fl.StringVar(&o.Notes, "notes", "", "release notes")
	fl.StringVar(&o.Retain, "retain", "", "keep the release at least this long on a write-once registry (10y, 90d; lengthens, never shortens)")
	fl.StringSliceVar(&o.RunsPaths, "runs-path", nil, "extra run result glob, relative to the current directory (repeatable)")
	fl.BoolVar(&o.NoRuns, "no-runs", false, "do not sync run results")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "verify the pack and resolve the adapter, but call nothing remote")
	fl.BoolVarP(&o.Detach, "detach", "d", false, "run in the background; see 'epack jobs'")
	fl.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	fl.IntVar(&o.Parallel, "parallel", xfer.DefaultParallel, "parts sent at once in a multipart upload (adapters with features.multipart_upload)")
	fl.Var(&o.PartSize, "part-size", "part size of a multipart upload, e.g. 16MiB (default: 16MiB, raised to the adapter's limits)")
	return cmd
}

// runPush verifies and publishes the pack (or does a dry run, or starts a
// detached push).
func runPush(ctx context.Context, f *pushOptions) error {
	g, remoteName, packArg := f.g, f.Remote, f.PackArg
	packPath, err := filepath.Abs(packArg)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "pack path %q", packArg)
	}
	if fi, err := os.Stat(packPath); err != nil || fi.IsDir() {
		return errcode.New(errcode.InvalidInput, "pack not found: %s", packArg).WithHint("check the path; build one with 'epack build'")
	}
	if _, err := execPolicy(f.Frozen, f.AllowUnpinned, "push_cli").Check(nil); err != nil {
		return err
	}
	if f.Retain != "" {
		if _, err := protocol.ParseRetention(f.Retain); err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "--retain")
		}
	}
	if f.Parallel < 1 || f.Parallel > 64 {
		return errcode.New(errcode.InvalidInput, "--parallel %d is out of 1..64", f.Parallel)
	}
	if f.DryRun {
		return pushDryRun(ctx, f, packPath)
	}
	if f.Detach {
		args := childArgs{remoteName, packPath}
		args.opt("--env", f.Env)
		args.opt("--workspace", f.Workspace)
		for _, l := range f.Labels {
			args.opt("--label", l)
		}
		args.opt("--notes", f.Notes)
		args.opt("--retain", f.Retain)
		for _, p := range f.RunsPaths {
			// The child runs in the same folder, but absolute paths keep the
			// job record meaningful wherever it is read.
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			args.opt("--runs-path", p)
		}
		args.flag("--no-runs", f.NoRuns)
		if f.Parallel != xfer.DefaultParallel {
			args.opt("--parallel", strconv.Itoa(f.Parallel))
		}
		if f.PartSize > 0 {
			args.opt("--part-size", f.PartSize.String())
		}
		return args.detach(g, "push", f.Frozen, f.AllowUnpinned)
	}

	dir, err := workingDir()
	if err != nil {
		return err
	}
	ui := newStepUI(g, "Uploading")
	defer ui.Close()
	g.verbose("Pushing to remote %q\n", remoteName)
	if f.Env != "" {
		g.verbose("Using environment: %s\n", f.Env)
	}
	opts := push.Options{
		Remote: remoteName, PackPath: packPath, Environment: f.Env, Workspace: f.Workspace,
		Labels: f.Labels, Notes: f.Notes, Retain: f.Retain, RunsPaths: f.RunsPaths, NoRuns: f.NoRuns,
		NonInteractive: !f.Yes && !canPrompt(g), Stderr: g.IO.ErrOut,
		OnStep: ui.Step, OnUploadProgress: ui.Progress,
		PromptInstallAdapter: installPrompt(g, f.Yes),
		ProjectDir:           dir, NoRedact: g.NoRedact,
		Parallel: f.Parallel, PartSize: int64(f.PartSize),
		Getenv: os.Getenv,
	}
	pol := execPolicy(f.Frozen, f.AllowUnpinned, "")
	opts.Secure.Frozen, opts.Secure.StrictProduction = pol.Frozen, pol.StrictProduction
	opts.Unsafe.AllowUnpinned = pol.AllowUnpinned
	start := time.Now()
	res, err := push.Push(ctx, opts)
	if err != nil {
		ui.Fail()
		if res != nil && res.ReceiptPath != "" {
			g.info("Receipt: %s\n", res.ReceiptPath)
		}
		if res != nil && g.JSON {
			g.result = pushJSON(remoteName, packArg, res)
		}
		return err
	}
	out := pushJSON(remoteName, packArg, res)
	g.result = out
	if g.JSON {
		writeJSON(g.IO.Out, out)
		return nil
	}
	g.out("\n%s Pushed to %s in %s\n\nRelease:\n", g.okMark(), remoteName, formatDuration(time.Since(start)))
	g.out("  • ID:      %s\n", adapterText(res.Release.ReleaseID))
	if res.Release.CanonicalRef != "" {
		g.out("  • Ref:     %s\n", adapterText(res.Release.CanonicalRef))
	}
	g.out("  • File digest: %s  (pull --digest)\n", res.FileDigest)
	g.out("  • Pack digest: %s\n", res.PackDigest)
	if res.Retention != nil {
		g.out("  • %s\n", adapterText(res.Retention.Summary()))
	}
	if n := len(res.Signers); n > 0 {
		g.out("  • Signers: %d allowed by the remote's policy\n", n)
	}
	switch {
	case res.UploadedByAdapter:
		g.out("  • Upload:  by the adapter (the registry needs a credential epack does not hand out)\n")
	case res.UploadSkipped:
		g.out("  • Upload:  skipped (the registry already has these bytes)\n")
	}
	if n := len(res.SyncedRuns); n > 0 {
		g.out("  • Runs:    %d synced\n", n)
	}
	if n := len(res.FailedOutputs); n > 0 {
		g.out("  • Outputs: %d failed to upload\n", n)
		if g.Verbose {
			for _, fo := range res.FailedOutputs {
				g.out("      %s: %s\n", adapterText(fo.Path), adapterSays(fo.Reason))
			}
		}
	}
	g.verbose("Synced %d runs, %d failed\n", len(res.SyncedRuns), len(res.FailedRuns))
	if v := res.Links["view"]; v != "" {
		g.out("\nView:  %s\n", adapterLink(v))
	}
	if v := res.Links["share"]; v != "" {
		g.out("Share: %s\n", adapterLink(v))
	}
	g.out("\nReceipt: %s\n", res.ReceiptPath)
	g.out("\nNext steps:\n  •  epack releases %s        # What the registry holds\n  •  epack pull %s            # Pull on another machine\n", remoteName, remoteName)
	return nil
}

func pushJSON(remoteName, packArg string, res *push.Result) map[string]any {
	out := map[string]any{
		"pushed": res.Release != nil, "remote": remoteName, "pack": packArg,
		"links": res.Links, "synced_runs": nonNil(res.SyncedRuns), "failed_runs": nonNil(res.FailedRuns),
		"failed_outputs": res.FailedOutputs, "receipt_path": res.ReceiptPath,
		"upload_skipped": res.UploadSkipped, "uploaded_by_adapter": res.UploadedByAdapter, "pack_digest": res.PackDigest, "file_digest": res.FileDigest,
		"size_bytes": res.SizeBytes, "target": res.Target, "signers": res.Signers,
		"bytes_sent": res.BytesSent, "bytes_resumed": res.BytesResumed,
	}
	if res.Signers == nil {
		out["signers"] = []any{}
	}
	if res.FailedOutputs == nil {
		out["failed_outputs"] = []any{}
	}
	if res.Links == nil {
		out["links"] = map[string]string{}
	}
	if res.Release != nil {
		out["release_id"] = res.Release.ReleaseID
		out["canonical_ref"] = res.Release.CanonicalRef
		if res.Release.Log != nil {
			out["log"] = res.Release.Log // where the release's record sits in the stream's release log
		}
	}
	if res.Retention != nil {
		out["retention"] = res.Retention // how long the registry keeps the release (Object Lock)
	}
	if res.RunsError != nil {
		out["runs_error"] = res.RunsError.Error()
	}
	if res.RunsSkipped != "" {
		out["runs_skipped"] = res.RunsSkipped
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// canPrompt reports whether the user can be asked a question.
func canPrompt(g *Globals) bool {
	if g.JSON || g.Quiet || g.CI {
		return false
	}
	return g.IO.CanPrompt()
}

// installPrompt asks whether to install a missing adapter.
func installPrompt(g *Globals, yes bool) func(string, string) bool {
	return func(remoteName, adapterName string) bool {
		if yes {
			return true
		}
		if !canPrompt(g) {
			return false // the error that follows says what to run
		}
		fmt.Fprintf(g.IO.ErrOut, "Adapter %q for remote %q is not installed. Install now? [y/N] ", adapterName, remoteName)
		var answer string
		_, _ = fmt.Fscanln(g.IO.In, &answer)
		a := strings.ToLower(strings.TrimSpace(answer))
		return a == "y" || a == "yes"
	}
}

// pushDryRun verifies the pack and resolves the adapter without calling it.
func pushDryRun(ctx context.Context, f *pushOptions, packPath string) error {
	g, remoteName, packArg := f.g, f.Remote, f.PackArg
	fh, _, err := pack.OpenRegular(packPath)
	if err != nil {
		return err
	}
	defer fh.Close()
	v, err := pack.VerifyFile(ctx, fh, verifyNoMD5)
	if err != nil {
		return fmt.Errorf("pack verification failed: %w", err)
	}
	out := map[string]any{
		"dry_run": true, "remote": remoteName, "pack": packArg, "stream": v.Manifest.Stream,
		"size": v.File.Size, "artifacts": len(v.Manifest.Artifacts), "pack_digest": v.Manifest.PackDigest,
		"file_digest": v.File.SHA256, "verified": true, "attestations": len(v.Attestations),
	}
	cwd, _ := os.Getwd()
	project, err := config.LoadProject(cwd)
	if err != nil {
		return err
	}
	rc, err := project.Config.ResolveRemote(remoteName, f.Env)
	if err != nil {
		return err
	}
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return err
	}
	resolved, rerr := remote.Resolve(project.Root, rc, lock)
	workspace := rc.Target.Workspace
	if f.Workspace != "" {
		workspace = f.Workspace
	}
	var labels []string
	labels = append(labels, rc.Release.Labels...)
	labels = append(labels, f.Labels...)
	notes := rc.Release.Notes
	if f.Notes != "" {
		notes = f.Notes
	}
	syncRuns := !f.NoRuns && rc.RunsSyncEnabled()
	out["workspace"], out["environment"], out["labels"], out["notes"], out["sync_runs"] = workspace, rc.Target.Environment, nonNil(labels), notes, syncRuns
	if resolved != nil {
		out["adapter"] = map[string]any{"name": resolved.Adapter, "path": resolved.Path, "origin": resolved.Origin, "status": resolved.Status}
	}
	if rerr != nil {
		out["adapter_error"] = rerr.Error()
	}
	g.result = out
	if g.JSON {
		writeJSON(g.IO.Out, out)
		return rerr
	}
	g.out("Would push %s → %s\n\nPack:\n  Path:         %s\n  Stream:       %s\n  Size:         %s\n  Artifacts:    %d\n  Verified:     yes\n",
		packArg, remoteName, packPath, v.Manifest.Stream, formatSize(v.File.Size), len(v.Manifest.Artifacts))
	if n, _ := out["attestations"].(int); n > 0 {
		g.out("  Attestations: %d\n", n)
	}
	g.out("\nTarget:\n  Remote:       %s\n", remoteName)
	if workspace != "" {
		g.out("  Workspace:    %s\n", workspace)
	}
	if rc.Target.Environment != "" {
		g.out("  Environment:  %s\n", rc.Target.Environment)
	}
	if f.Env != "" {
		g.out("  Config env:   %s\n", f.Env)
	}
	if resolved != nil {
		g.out("  Adapter:      %s (%s, %s)\n", resolved.Path, resolved.Origin, resolved.Status)
	}
	if len(labels) > 0 || notes != "" {
		g.out("\nRelease:\n")
		if len(labels) > 0 {
			g.out("  Labels:       %v\n", labels)
		}
		if notes != "" {
			g.out("  Notes:        %s\n", notes)
		}
	}
	g.out("\nOptions:\n  Sync runs:    %v\n", syncRuns)
	return rerr
}
