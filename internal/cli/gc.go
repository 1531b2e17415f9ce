package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// gcOptions are the arguments and flags of 'epack gc'.
type gcOptions struct {
	g *Globals

	Remote                     string
	Env                        string
	DryRun                     bool
	OlderThan                  string
	Frozen, AllowUnpinned, Yes bool
}

// defaultGCAge is --older-than's default.
const defaultGCAge = "24h"

// maxGCCalls bounds how many registry.gc calls one run makes.
const maxGCCalls = 1000

func newCmdGC(g *Globals, runF func(context.Context, *gcOptions) error) *cobra.Command {
	o := &gcOptions{g: g}
	if runF == nil {
		runF = runGC
	}
	cmd := &cobra.Command{
		Use:   "gc <remote>",
		Short: "Remove what interrupted pushes left in a registry, and pack blobs no release references",
		Long: `Remove from the remote's registry what interrupted pushes left behind — the
records of pushes that never finished, their staged uploads, temp files of
interrupted writes, incomplete multipart uploads — and pack blobs that no
release references. Prints what it removed (or, with --dry-run, what it would
remove), with sizes.

Never removed: anything a release references (its pack blob and its records),
anything under retention or legal hold, and anything younger than
--older-than (default 24h). A push that started before gc still finalizes,
as long as it is younger than --older-than: keep that far longer than your
longest push. --older-than 0s removes every leftover at once; use it only
when no push is running.

The registry is one store for every workspace and environment, so gc covers
all of it. epack's own filesystem and S3 adapters support it.`,
		Example: `  epack gc origin --dry-run
  epack gc origin --older-than 72h
  epack gc origin --older-than 7d --json`,
		Args: logArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "env", "older-than"); err != nil {
				return err
			}
			o.Remote = args[0]
			return runF(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.DryRun, "dry-run", false, "list what would be removed, remove nothing")
	fl.StringVar(&o.OlderThan, "older-than", defaultGCAge, "remove only what is older than this (30m, 24h, 7d)")
	fl.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	return cmd
}

// parseAge reads a duration: Go's forms (90s, 30m, 24h) or whole days (7d).
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (30m, 24h, 7d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

var gcOp = workflow.Op{Name: "gc", ReceiptDir: ".epack/receipts"}

func runGC(ctx context.Context, o *gcOptions) error {
	g := o.g
	age, err := parseAge(o.OlderThan)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "--older-than")
	}
	rs, err := openRegistry(ctx, g, gcOp, o.Remote, o.Env, "", o.Frozen, o.AllowUnpinned, o.Yes, "gc_cli")
	if err != nil {
		return err
	}
	defer rs.s.Close()
	s := rs.s
	adapterName := s.Resolved().Adapter
	if !s.Capabilities().Features.GC {
		return errcode.New(errcode.UnsupportedFeature, "this registry (adapter %q) cannot collect garbage", adapterName).
			WithHint("the adapter of remote %q does not offer registry.gc (features.gc); epack's own filesystem and S3 adapters do", o.Remote)
	}
	req := protocol.GCRequest{Target: rs.target, DryRun: o.DryRun, OlderThanSeconds: int64(age / time.Second)}
	var removed []protocol.GCItem
	var bytes int64
	kept := map[string]int{}
	for calls := 0; ; calls++ {
		resp, err := workflow.Call(ctx, protocol.CmdGC, func(ctx context.Context) (*protocol.GCResponse, error) {
			return s.GC(ctx, &req)
		})
		if remote.IsUnsupported(err) {
			return errcode.New(errcode.UnsupportedFeature, "this registry (adapter %q) cannot collect garbage", adapterName)
		}
		if err != nil {
			if len(removed) > 0 {
				g.info("Removed %d objects (%s) before the error.\n", len(removed), formatSize(bytes))
			}
			return err
		}
		removed = append(removed, resp.Removed...)
		bytes += resp.RemovedBytes
		for k, v := range resp.Kept {
			kept[k] = v
		}
		// A dry run lists one call's worth; a real run goes on while the
		// adapter says more may be removed and it removed something.
		if o.DryRun || !resp.More || len(resp.Removed) == 0 || calls+1 >= maxGCCalls {
			break
		}
	}
	result := map[string]any{
		"remote": o.Remote, "adapter": adapterName, "dry_run": o.DryRun, "older_than": age.String(),
		"removed": nonNilItems(removed), "count": len(removed), "removed_bytes": bytes, "kept": kept,
	}
	g.result = result
	if g.JSON {
		writeJSON(g.IO.Out, result)
		return nil
	}
	what := "Removed"
	if o.DryRun {
		what = "Would remove"
	}
	if len(removed) == 0 {
		g.out("Nothing to remove from %s older than %s.\n", o.Remote, age)
	} else {
		g.out("%s %d object%s (%s) from %s:\n", what, len(removed), plural(len(removed)), formatSize(bytes), o.Remote)
		for _, it := range removed {
			g.out("  %-8s %9s  %s  (%s, %s)\n", adapterText(it.Kind), formatSize(it.SizeBytes), adapterText(it.Key), adapterText(it.Reason),
				it.ModifiedAt.UTC().Format("2006-01-02 15:04:05Z"))
		}
	}
	if len(kept) > 0 {
		var parts []string
		for _, k := range []string{"referenced", "retained", "young", "in_flight"} {
			if kept[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", kept[k], strings.ReplaceAll(k, "_", " ")))
			}
		}
		if len(parts) > 0 {
			g.out("Kept: %s.\n", strings.Join(parts, ", "))
		}
	}
	if o.DryRun && len(removed) > 0 {
		g.out("\nRemove them: epack gc %s --older-than %s\n", o.Remote, o.OlderThan)
	}
	return nil
}

func nonNilItems(s []protocol.GCItem) []protocol.GCItem {
	if s == nil {
		return []protocol.GCItem{}
	}
	return s
}
