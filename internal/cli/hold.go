package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// holdOptions are the arguments and flags of 'epack hold set|clear'.
type holdOptions struct {
	g *Globals

	Set                        bool
	Remote, ReleaseID          string
	Env, Workspace             string
	Frozen, AllowUnpinned, Yes bool
}

// newCmdHold builds 'epack hold' with set and clear; runF runs the parsed
// options of either (nil: runHold).
func newCmdHold(g *Globals, runF func(context.Context, *holdOptions) error) *cobra.Command {
	if runF == nil {
		runF = runHold
	}
	cmd := &cobra.Command{
		Use:   "hold",
		Short: "Set or clear a legal hold on a release",
		Long: `A legal hold keeps everything a release is made of — its pack blob and every
record of it in the release log — from being deleted or overwritten, whatever
its retention, until the hold is cleared. It needs a registry with write-once
storage: an S3 bucket with Object Lock (extensions.object_lock).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	for _, set := range []bool{true, false} {
		o := &holdOptions{g: g, Set: set}
		use, short := "set <remote> <release-id>", "Put a release under legal hold"
		if !set {
			use, short = "clear <remote> <release-id>", "Lift the legal hold of a release"
		}
		sub := &cobra.Command{
			Use:     use,
			Short:   short,
			Long:    short + ": its pack blob and every record of it in the release log (S3 Object Lock legal hold).",
			Example: "  epack hold " + use[:len(use)-len(" <remote> <release-id>")] + " origin rel_01JD2W3K9QXYZ5T7A8B9C0D1E2",
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) != 2 {
					return errcode.New(errcode.InvalidInput, "expected a remote and a release id, got %d arguments", len(args)).WithHint("usage: %s", cmd.UseLine())
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := refuseBlankFlags(cmd, "workspace", "env"); err != nil {
					return err
				}
				o.Remote, o.ReleaseID = args[0], args[1]
				return runF(cmd.Context(), o)
			},
		}
		fl := sub.Flags()
		fl.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
		fl.StringVar(&o.Workspace, "workspace", "", "use this workspace instead of the remote's")
		fl.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
		fl.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
		fl.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
		cmd.AddCommand(sub)
	}
	return cmd
}

var holdOp = workflow.Op{Name: "hold", ReceiptDir: ".epack/receipts"}

func runHold(ctx context.Context, o *holdOptions) error {
	g := o.g
	req := protocol.HoldRequest{ReleaseID: o.ReleaseID, Hold: o.Set}
	if err := req.Check(); err != nil || len(o.ReleaseID) != 30 || o.ReleaseID[:4] != "rel_" {
		return errcode.New(errcode.InvalidInput, "%q is not a release id", o.ReleaseID).WithHint("release ids look like rel_01JD2W3K9QXYZ5T7A8B9C0D1E2 (epack releases %s)", o.Remote)
	}
	rs, err := openRegistry(ctx, g, holdOp, o.Remote, o.Env, o.Workspace, o.Frozen, o.AllowUnpinned, o.Yes, "hold_cli")
	if err != nil {
		return err
	}
	defer rs.s.Close()
	s := rs.s
	adapterName := s.Resolved().Adapter
	refuse := errcode.New(errcode.UnsupportedFeature, "this registry (adapter %q) cannot hold releases", adapterName).
		WithHint("legal holds need write-once storage: an S3 bucket with Object Lock and extensions.object_lock in remote %q", o.Remote)
	if !s.Capabilities().Features.LegalHold {
		return refuse
	}
	req.Target = rs.target
	resp, err := workflow.Call(ctx, protocol.CmdHold, func(ctx context.Context) (*protocol.HoldResponse, error) {
		return s.Hold(ctx, &req)
	})
	if remote.IsUnsupported(err) {
		return refuse
	}
	if err != nil {
		return err
	}
	result := map[string]any{"remote": o.Remote, "adapter": adapterName, "release_id": resp.ReleaseID, "hold": resp.Hold, "objects": resp.Objects}
	g.result = result
	if g.JSON {
		writeJSON(g.IO.Out, result)
		return nil
	}
	what := "under legal hold"
	if !o.Set {
		what = "no longer under legal hold"
	}
	g.out("%s Release %s is %s (%d objects: its pack and its records).\n", g.okMark(), adapterText(resp.ReleaseID), what, len(resp.Objects))
	if g.Verbose {
		for _, k := range resp.Objects {
			g.out("  %s\n", adapterText(k))
		}
	}
	return nil
}
