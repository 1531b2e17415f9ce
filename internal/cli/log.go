package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/push"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/remote"
)

// logOptions are the arguments and flags of 'epack log verify' and 'epack log show'.
type logOptions struct {
	g *Globals

	Show                       bool // log show (else log verify)
	Remote                     string
	Env, Workspace, Stream     string
	Receipts                   []string
	Frozen, AllowUnpinned, Yes bool
}

// Bounds on what 'epack log' reads from an adapter.
const (
	maxLogPages   = 100_000
	maxLogStreams = 100_000
)

// maxReceiptSize bounds a receipt read from disk ('epack log --receipt',
// the pull receipts inspect looks through).
const maxReceiptSize = 1 << 20

// newCmdLog builds 'epack log' and its subcommands; runF runs the parsed
// options of either (nil: runLog).
func newCmdLog(g *Globals, runF func(context.Context, *logOptions) error) *cobra.Command {
	if runF == nil {
		runF = runLog
	}
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Verify or show the release log of a registry",
		Long: `Every stream of epack's own registries keeps a release log: a hash chain of
its release records, each naming the SHA-256 of the record before it and its
own sequence number. Records are canonical JSON (RFC 8785) and never edited:
a re-push or new labels append a record.

  epack log verify   checks every chain, record and pack blob
  epack log show     prints the chain`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdLogVerify(g, runF), newCmdLogShow(g, runF))
	return cmd
}

func logFlags(cmd *cobra.Command, o *logOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.StringVar(&o.Workspace, "workspace", "", "use this workspace instead of the remote's")
	fl.StringVar(&o.Stream, "stream", "", "only this stream (default: every stream of the workspace and environment)")
	fl.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
}

func logArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 1 {
		return errcode.New(errcode.InvalidInput, "missing remote name argument").WithHint("usage: %s", cmd.UseLine())
	}
	if len(args) > 1 {
		return errcode.New(errcode.InvalidInput, "too many arguments: expected 1, got %d", len(args)).WithHint("usage: %s", cmd.UseLine())
	}
	return nil
}

func newCmdLogVerify(g *Globals, runF func(context.Context, *logOptions) error) *cobra.Command {
	o := &logOptions{g: g}
	cmd := &cobra.Command{
		Use:   "verify <remote>",
		Short: "Check the release log: every link, record hash, sequence number and pack blob",
		Long: `Check the release log of every stream of the remote's workspace and environment
(or of --stream): walk each chain from its head back to its first record,
recompute the SHA-256 of every record as stored and compare it with what the
next record (or the head) recorded, check sequence numbers have no gap, and
ask the registry to re-hash every pack blob the records name.

Every problem is named: a missing record, an altered record, records
reordered or moved, a gap, a fork (two records with one sequence number), a
loop, a record not in canonical form, a head pointing at a missing record,
records not reached from the head, a pack blob missing or changed. Any
problem makes the command exit 11.

--receipt proves that the release of a push receipt is still in the chain at
the position the receipt recorded (sequence number and record hash); repeat
it for several receipts.

Releases recorded before the release log existed have no place in a chain.
A stream without a log lists them as a notice (exit 0); its next push adopts
them: its first record names each one with the SHA-256 of its record, and
they are checked from then on.`,
		Example: `  epack log verify origin
  epack log verify origin --stream acme/prod --json
  epack log verify origin --receipt .epack/receipts/push/origin/2026-12-01T09-00-00Z-sha256-ab12.json`,
		Args: logArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "workspace", "env", "stream"); err != nil {
				return err
			}
			o.Remote = args[0]
			return runF(cmd.Context(), o)
		},
	}
	logFlags(cmd, o)
	cmd.Flags().StringArrayVar(&o.Receipts, "receipt", nil, "check that this push receipt's release is still in the chain at its position (repeatable)")
	return cmd
}

func newCmdLogShow(g *Globals, runF func(context.Context, *logOptions) error) *cobra.Command {
	o := &logOptions{g: g, Show: true}
	cmd := &cobra.Command{
		Use:   "show <remote>",
		Short: "Print the release log of each stream, oldest record first",
		Long: `Print the release log of every stream of the remote's workspace and environment
(or of --stream): one line per record, oldest first — sequence number, time,
kind (release: the record that created a release; update: a re-push or new
labels), release id, labels and the record's SHA-256. The chain is walked and
checked as 'epack log verify' does, without the pack blobs; problems are
listed after it.`,
		Example: `  epack log show origin --stream acme/prod
  epack log show origin --json | jq '.streams[].chain[].release_id'`,
		Args: logArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "workspace", "env", "stream"); err != nil {
				return err
			}
			o.Remote = args[0]
			return runF(cmd.Context(), o)
		},
	}
	logFlags(cmd, o)
	return cmd
}

// logOp is what the shared workflow steps need to know about the log.
var logOp = workflow.Op{Name: "release log", ReceiptDir: ".epack/receipts"}

// registrySession opens the remote's adapter the way push and pull do.
type registrySession struct {
	s      *remote.Session
	env    *workflow.Env
	target protocol.TargetConfig
}

func openRegistry(ctx context.Context, g *Globals, op workflow.Op, remoteName, envName, workspace string, frozen, allowUnpinned, yes bool, component string) (*registrySession, error) {
	if err := workflow.CheckNames(workspace, envName); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "epack %s", op.Name)
	}
	pol := execPolicy(frozen, allowUnpinned, component)
	if _, err := pol.Check(nil); err != nil {
		return nil, err
	}
	dir, err := workingDir()
	if err != nil {
		return nil, err
	}
	env, err := workflow.Load(op, dir, remoteName, envName)
	if err != nil {
		return nil, err
	}
	var stderr io.Writer = g.IO.ErrOut
	if g.Quiet || g.JSON {
		stderr = io.Discard
	}
	var prompt func(string, string) bool
	if yes || canPrompt(g) {
		prompt = installPrompt(g, yes)
	}
	s, err := env.OpenSession(ctx, workflow.SessionSpec{Policy: pol, Stderr: stderr, NoRedact: g.NoRedact, Prompt: prompt})
	if err != nil {
		return nil, err
	}
	return &registrySession{s: s, env: env, target: protocol.TargetConfig{
		Workspace:   workflow.FirstNonEmpty(workspace, env.Remote.Target.Workspace),
		Environment: env.Remote.Target.Environment,
	}}, nil
}

// receiptCheck is one --receipt and what was found.
type receiptCheck struct {
	Path      string                `json:"path"`
	ReleaseID string                `json:"release_id"`
	Stream    string                `json:"stream"`
	Log       *protocol.LogPosition `json:"log"`
	OK        bool                  `json:"ok"`
	Problem   string                `json:"problem,omitempty"`
}

// readReceipt reads a push receipt (bounded, strict JSON).
func readReceipt(path string) (*push.Receipt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "--receipt")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReceiptSize+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "reading receipt %s", path)
	}
	if len(data) > maxReceiptSize {
		return nil, errcode.New(errcode.InvalidInput, "receipt %s is larger than %d bytes", path, maxReceiptSize)
	}
	var rc push.Receipt
	if err := protocol.DecodeStrict(data, &rc); err != nil {
		return nil, errcode.Wrap(errcode.InvalidJSON, err, "receipt %s is not a push receipt", path)
	}
	if rc.Release.ReleaseID == "" {
		return nil, errcode.New(errcode.InvalidInput, "receipt %s names no release (the push created none)", path)
	}
	if rc.Release.Log != nil {
		if err := rc.Release.Log.Check(); err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "receipt %s", path)
		}
	}
	return &rc, nil
}

// runLog verifies (or shows) the release log of the remote.
func runLog(ctx context.Context, o *logOptions) error {
	g := o.g
	if o.Stream != "" {
		if err := names.Check(names.Stream, o.Stream); err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "--stream")
		}
	}
	var receipts []*push.Receipt
	for _, p := range o.Receipts {
		rc, err := readReceipt(p)
		if err != nil {
			return err
		}
		receipts = append(receipts, rc)
	}
	component := "log_verify_cli"
	if o.Show {
		component = "log_show_cli"
	}
	rs, err := openRegistry(ctx, g, logOp, o.Remote, o.Env, o.Workspace, o.Frozen, o.AllowUnpinned, o.Yes, component)
	if err != nil {
		return err
	}
	defer rs.s.Close()
	s := rs.s
	adapterName := s.Resolved().Adapter
	if !s.Capabilities().Features.ReleaseLog {
		return cannotLog(adapterName, o.Remote)
	}
	target := rs.target

	// Streams: --stream, else every stream, plus those of the receipts.
	var streams []string
	if o.Stream != "" {
		streams = []string{o.Stream}
	} else {
		all, err := logStreams(ctx, s, target)
		if remote.IsUnsupported(err) {
			return cannotLog(adapterName, o.Remote)
		}
		if err != nil {
			return err
		}
		streams = all
	}
	checks := make([]receiptCheck, len(receipts))
	for i, rc := range receipts {
		st := rc.Target.Stream
		if rc.Release.Log != nil && rc.Release.Log.Stream != "" {
			st = rc.Release.Log.Stream
		}
		checks[i] = receiptCheck{Path: o.Receipts[i], ReleaseID: rc.Release.ReleaseID, Stream: st, Log: rc.Release.Log}
		if st != "" && !slices.Contains(streams, st) && names.Check(names.Stream, st) == nil && (o.Stream == "" || o.Stream == st) {
			streams = append(streams, st)
		}
	}

	reports := make([]*registry.ChainReport, 0, len(streams))
	byStream := map[string]*registry.ChainReport{}
	for _, st := range streams {
		t := target
		t.Stream = st
		head, recs, err := readLog(ctx, s, t)
		if remote.IsUnsupported(err) {
			return cannotLog(adapterName, o.Remote)
		}
		if err != nil {
			return err
		}
		rep := registry.VerifyChain(st, head, recs)
		reports = append(reports, rep)
		byStream[st] = rep
	}
	blobs := 0
	if !o.Show {
		if blobs, err = checkBlobs(ctx, s, target, reports); err != nil {
			return err
		}
	}
	for i, rc := range receipts {
		c := &checks[i]
		rep := byStream[c.Stream]
		switch {
		case rc.Target.Workspace != target.Workspace || rc.Target.Environment != target.Environment:
			c.Problem = fmt.Sprintf("the receipt is of workspace %q, environment %q; the remote is %q, %q", rc.Target.Workspace, rc.Target.Environment, target.Workspace, target.Environment)
		case rep == nil:
			c.Problem = fmt.Sprintf("the receipt names no stream of this check (%q)", c.Stream)
		default:
			c.Problem = registry.CheckReceipt(rep, c.ReleaseID, c.Log)
		}
		c.OK = c.Problem == ""
	}

	problems := []registry.Problem{}
	for _, rep := range reports {
		problems = append(problems, rep.Problems...)
	}
	for _, c := range checks {
		if !c.OK {
			problems = append(problems, registry.Problem{Kind: registry.ProblemReceipt, Stream: c.Stream, ReleaseID: c.ReleaseID, Seq: seqOf(c.Log), Message: "receipt " + c.Path + ": " + c.Problem})
		}
	}
	result := map[string]any{
		"remote": o.Remote, "adapter": adapterName, "target": target, "ok": len(problems) == 0,
		"streams": reports, "problems": problems, "blobs_checked": blobs, "receipts": checks,
	}
	g.result = result
	if g.JSON {
		writeJSON(g.IO.Out, result)
	} else {
		printLog(g, o, reports, checks, blobs)
	}
	if len(problems) == 0 {
		return nil
	}
	err = errcode.New(errcode.DigestMismatch, "the release log of remote %q has %d problem%s", o.Remote, len(problems), plural(len(problems))).
		WithHint("see the problems listed above; a record or pack blob was changed or removed outside epack")
	if o.Show {
		return nil // show lists problems; verify is the check that fails
	}
	if g.JSON {
		fmt.Fprintf(g.IO.ErrOut, "Error: [%s] %s\n", errcode.Of(err), termSafe(err.Error()))
		return &exitError{code: exitstatus.Of(err)}
	}
	return err
}

func seqOf(p *protocol.LogPosition) int64 {
	if p == nil {
		return 0
	}
	return p.Sequence
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cannotLog is the refusal for an adapter without the release log.
func cannotLog(adapterName, remoteName string) error {
	return errcode.New(errcode.UnsupportedFeature, "this registry (adapter %q) keeps no release log", adapterName).
		WithHint("the adapter of remote %q does not offer log.read (features.release_log); epack's own filesystem and S3 adapters do", remoteName)
}

// logStreams follows log.streams to its end.
func logStreams(ctx context.Context, s *remote.Session, target protocol.TargetConfig) ([]string, error) {
	req := protocol.LogStreamsRequest{Target: target}
	var out []string
	seen := map[string]bool{}
	for pages := 0; pages < maxLogPages; pages++ {
		resp, err := workflow.Call(ctx, protocol.CmdLogStreams, func(ctx context.Context) (*protocol.LogStreamsResponse, error) {
			return s.LogStreams(ctx, &req)
		})
		if err != nil {
			return nil, err
		}
		for _, st := range resp.Streams {
			if !seen[st] && names.Check(names.Stream, st) == nil {
				seen[st] = true
				out = append(out, st)
			}
		}
		if len(out) > maxLogStreams {
			return nil, errcode.New(errcode.ProtocolMismatch, "adapter %q lists more than %d streams", s.Resolved().Adapter, maxLogStreams)
		}
		if resp.NextCursor == "" {
			return out, nil
		}
		if resp.NextCursor == req.Cursor {
			return nil, errcode.New(errcode.ProtocolMismatch, "adapter %q answered the cursor it was given: the listing would never end", s.Resolved().Adapter)
		}
		req.Cursor = resp.NextCursor
	}
	return nil, errcode.New(errcode.ProtocolMismatch, "adapter %q never ends its list of streams", s.Resolved().Adapter)
}

// readLog follows log.read to the end of a stream's records.
func readLog(ctx context.Context, s *remote.Session, target protocol.TargetConfig) (*protocol.LogHead, []protocol.LogRecord, error) {
	req := protocol.LogReadRequest{Target: target}
	var head *protocol.LogHead
	var recs []protocol.LogRecord
	for pages := 0; pages < maxLogPages; pages++ {
		resp, err := workflow.Call(ctx, protocol.CmdLogRead, func(ctx context.Context) (*protocol.LogReadResponse, error) {
			return s.LogRead(ctx, &req)
		})
		if err != nil {
			return nil, nil, err
		}
		if pages == 0 {
			head = resp.Head
		}
		recs = append(recs, resp.Records...)
		if resp.NextCursor == "" {
			return head, recs, nil
		}
		if resp.NextCursor == req.Cursor {
			return nil, nil, errcode.New(errcode.ProtocolMismatch, "adapter %q answered the cursor it was given: the log would never end", s.Resolved().Adapter)
		}
		req.Cursor = resp.NextCursor
	}
	return nil, nil, errcode.New(errcode.ProtocolMismatch, "adapter %q never ends the log of stream %q", s.Resolved().Adapter, target.Stream)
}

// checkBlobs asks blobs.check about every blob the reports name and
// records the answers in each report naming it. It returns how many
// blobs were checked.
func checkBlobs(ctx context.Context, s *remote.Session, target protocol.TargetConfig, reports []*registry.ChainReport) (int, error) {
	var refs []protocol.BlobRef
	seen := map[protocol.BlobRef]bool{}
	for _, rep := range reports {
		for _, ref := range rep.BlobRefs() {
			if !seen[ref] && strings.HasPrefix(ref.Digest, "sha256:") {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
	}
	checked := 0
	for len(refs) > 0 {
		batch := refs[:min(len(refs), protocol.MaxBlobsPerCheck)]
		resp, err := workflow.Call(ctx, protocol.CmdBlobsCheck, func(ctx context.Context) (*protocol.BlobsCheckResponse, error) {
			return s.BlobsCheck(ctx, &protocol.BlobsCheckRequest{Target: target, Blobs: batch})
		})
		if err != nil {
			return checked, err
		}
		if len(resp.Blobs) == 0 {
			return checked, errcode.New(errcode.ProtocolMismatch, "adapter %q answered blobs.check for no blob", s.Resolved().Adapter)
		}
		for _, st := range resp.Blobs {
			ref := protocol.BlobRef{Digest: st.Digest, SizeBytes: st.SizeBytes}
			for _, rep := range reports {
				if _, ok := rep.Blobs[ref]; ok {
					rep.AddBlobStatus(st)
				}
			}
		}
		checked += len(resp.Blobs)
		refs = refs[len(resp.Blobs):]
	}
	return checked, nil
}

// printLog prints the human report.
func printLog(g *Globals, o *logOptions, reports []*registry.ChainReport, checks []receiptCheck, blobs int) {
	if len(reports) == 0 {
		g.out("No stream of remote %s has release records.\n", o.Remote)
	}
	for _, rep := range reports {
		st := adapterText(rep.Stream)
		mark := g.okMark()
		if !rep.OK() {
			mark = g.failMark()
		}
		switch {
		case rep.Head == nil && len(rep.Chain) == 0:
			g.out("%s %s: no release log yet\n", mark, st)
		default:
			head := ""
			if rep.Head != nil {
				head = fmt.Sprintf(", head seq %d (%s)", rep.Head.Sequence, adapterText(rep.Head.Record))
			}
			g.out("%s %s: %d record%s in the chain%s\n", mark, st, len(rep.Chain), plural(len(rep.Chain)), head)
		}
		if o.Show || g.Verbose {
			for _, c := range rep.Chain {
				labels := strings.Join(c.Labels, ",")
				g.out("    %4d  %s  %-7s  %s  %s  %s\n", c.Seq, c.RecordedAt.UTC().Format("2006-01-02 15:04:05Z"), c.Kind,
					adapterText(c.ReleaseID), dash(adapterText(labels)), shortDigest("sha256:"+c.SHA256, g.Verbose))
			}
		}
		if len(rep.Legacy) > 0 {
			g.out("    %d release%s recorded before the release log, not in a chain yet (the stream's next push adopts them): %s\n",
				len(rep.Legacy), plural(len(rep.Legacy)), adapterText(strings.Join(rep.Legacy, ", ")))
		}
		for _, p := range rep.Problems {
			g.out("    %s %s: %s\n", g.failMark(), p.Kind, adapterText(p.Message))
		}
	}
	for _, c := range checks {
		if c.OK {
			g.out("%s receipt %s: release %s is at seq %d of stream %s\n", g.okMark(), adapterText(c.Path), adapterText(c.ReleaseID), seqOf(c.Log), adapterText(c.Stream))
		} else {
			g.out("%s receipt %s: %s\n", g.failMark(), adapterText(c.Path), adapterText(c.Problem))
		}
	}
	if !o.Show {
		g.out("\n%d pack blob%s re-hashed by the registry.\n", blobs, plural(blobs))
	}
}
