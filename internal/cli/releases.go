package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// releasesOptions are the arguments and flags of 'epack releases'.
type releasesOptions struct {
	g *Globals

	Remote                     string
	Env, Workspace, Stream     string
	Labels                     []string
	Limit                      int
	Cursor                     string
	Frozen, AllowUnpinned, Yes bool
}

// defaultReleasesShown is --limit's default; maxReleasesShown its largest value.
const (
	defaultReleasesShown = 50
	maxReleasesShown     = 100_000
)

// newCmdReleases builds 'epack releases'; runF runs the parsed options (nil: runReleases).
func newCmdReleases(g *Globals, runF func(context.Context, *releasesOptions) error) *cobra.Command {
	o := &releasesOptions{g: g}
	if runF == nil {
		runF = runReleases
	}
	cmd := &cobra.Command{
		Use:   "releases <remote>",
		Short: "List what a remote registry holds, newest first",
		Long: `List the releases a remote registry holds, newest first: release id, creation
time, stream, version, labels, pack digest, file digest and size (and who
signed the pack, when the registry records it; and until when it is retained,
on a registry that retains releases: S3 with Object Lock).

Without --stream every stream of the remote's workspace and environment is
listed. --label keeps only releases carrying that label (repeat it to require
several); a version is a label, so --label v1.0.0 finds the release that is
v1.0.0. --limit bounds how many are shown (default 50); when more follow, the
last line (and next_cursor in --json) tells how to continue from there with
--cursor.

The adapter runs under the same rules as push and pull: pinned adapters run
from a verified sealed copy, unpinned ones only with --insecure-allow-unpinned,
and --frozen refuses anything not pinned. The adapter must support listing
(features.releases_list); epack's own adapters do.

<remote> may instead be a registry location (no epack.yaml needed): a folder
or file:///path, s3://bucket/prefix?region=…, or oci://registry/namespace,
each with ?workspace=…&environment=…; only the bundled adapter runs for it.`,
		Example: `  epack releases local
  epack releases oci://ghcr.io/acme/evidence --stream acme/prod
  epack releases origin --stream acme/prod --label v1.0.0
  epack releases origin --limit 10 --json | jq -r '.releases[].release_id'
  epack releases origin --cursor rel_01JD2W3K9QXYZ5T7A8B9C0D1E2`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return errcode.New(errcode.InvalidInput, "missing remote name argument").WithHint("usage: %s", cmd.UseLine())
			}
			if len(args) > 1 {
				return errcode.New(errcode.InvalidInput, "too many arguments: expected 1, got %d", len(args)).WithHint("usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "workspace", "env", "stream", "cursor"); err != nil {
				return err
			}
			o.Remote = args[0]
			return runF(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml")
	fl.StringVar(&o.Workspace, "workspace", "", "list this workspace instead of the remote's")
	fl.StringVar(&o.Stream, "stream", "", "list only this stream")
	fl.StringSliceVar(&o.Labels, "label", nil, "list only releases carrying this label (repeatable; commas split)")
	fl.IntVar(&o.Limit, "limit", defaultReleasesShown, "show at most this many releases")
	fl.StringVar(&o.Cursor, "cursor", "", "continue a listing where an earlier one stopped (its next_cursor)")
	fl.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	fl.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	return cmd
}

// releaseJSON is one release in `epack releases --json`; the names are those
// push and pull --json use for the same facts.
type releaseJSON struct {
	ReleaseID    string                   `json:"release_id"`
	CreatedAt    time.Time                `json:"created_at"`
	Stream       string                   `json:"stream"`
	Version      string                   `json:"version"`
	Labels       []string                 `json:"labels"`
	PackDigest   string                   `json:"pack_digest"`
	FileDigest   string                   `json:"file_digest"`
	SizeBytes    int64                    `json:"size_bytes"`
	Signers      []protocol.ReleaseSigner `json:"signers"`
	CanonicalRef string                   `json:"canonical_ref"`
	// Retention is how long the registry keeps the release (absent when it
	// keeps none: a folder, S3 without Object Lock).
	Retention *protocol.Retention `json:"retention,omitempty"`
}

func toReleaseJSON(e protocol.ReleaseEntry) releaseJSON {
	r := releaseJSON{ReleaseID: e.ReleaseID, CreatedAt: e.CreatedAt.UTC(), Stream: e.Stream, Version: e.Version, Labels: e.Labels,
		PackDigest: e.PackDigest, FileDigest: e.FileDigest, SizeBytes: e.SizeBytes, Signers: e.Signers, CanonicalRef: e.CanonicalRef,
		Retention: e.Retention}
	if r.Labels == nil {
		r.Labels = []string{}
	}
	if r.Signers == nil {
		r.Signers = []protocol.ReleaseSigner{}
	}
	return r
}

// listOp is what the shared workflow steps need to know about listing.
var listOp = workflow.Op{Name: "list releases", ReceiptDir: ".epack/receipts"}

// cannotList is the refusal for an adapter without releases.list.
func cannotList(adapterName, remoteName string) error {
	return errcode.New(errcode.UnsupportedFeature, "this registry (adapter %q) cannot list releases", adapterName).
		WithHint("the adapter of remote %q does not offer releases.list (features.releases_list); update it, or pull what you know by name: epack pull %s --version <version>", remoteName, remoteName)
}

// runReleases lists the remote's releases, page by page, up to --limit.
func runReleases(ctx context.Context, o *releasesOptions) error {
	g := o.g
	if o.Limit < 1 || o.Limit > maxReleasesShown {
		return errcode.New(errcode.InvalidInput, "--limit %d is out of range", o.Limit).WithHint("give 1 to %d (default %d)", maxReleasesShown, defaultReleasesShown)
	}
	if err := workflow.CheckNames(o.Workspace, o.Env); err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "epack releases")
	}
	if o.Stream != "" {
		if err := names.Check(names.Stream, o.Stream); err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "--stream")
		}
	}
	first := protocol.ReleasesListRequest{Remote: o.Remote, Labels: o.Labels, Cursor: o.Cursor}
	if err := first.Check(); err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "epack releases")
	}
	pol := execPolicy(o.Frozen, o.AllowUnpinned, "releases_cli")
	if _, err := pol.Check(nil); err != nil {
		return err
	}
	dir, err := workingDir()
	if err != nil {
		return err
	}
	env, err := workflow.Load(listOp, dir, o.Remote, o.Env)
	if err != nil {
		return err
	}
	var stderr io.Writer = g.IO.ErrOut
	if g.Quiet {
		stderr = io.Discard
	}
	var prompt func(string, string) bool
	if o.Yes || canPrompt(g) {
		prompt = installPrompt(g, o.Yes)
	}
	s, err := env.OpenSession(ctx, workflow.SessionSpec{Policy: pol, Stderr: stderr, NoRedact: g.NoRedact, Prompt: prompt})
	if err != nil {
		return err
	}
	defer s.Close()
	adapterName := s.Resolved().Adapter
	if !s.Capabilities().Features.ReleasesList {
		return cannotList(adapterName, o.Remote)
	}

	first.Target = protocol.TargetConfig{
		Workspace:   workflow.FirstNonEmpty(o.Workspace, env.Remote.Target.Workspace),
		Environment: env.Remote.Target.Environment,
		Stream:      o.Stream,
	}
	rels, next, err := listReleases(ctx, s, first, o.Limit)
	if remote.IsUnsupported(err) {
		return cannotList(adapterName, o.Remote)
	}
	if err != nil {
		return err
	}

	out := make([]releaseJSON, 0, len(rels))
	for _, e := range rels {
		out = append(out, toReleaseJSON(e))
	}
	result := map[string]any{
		"remote": o.Remote, "adapter": adapterName, "target": first.Target,
		"releases": out, "count": len(out), "next_cursor": next,
	}
	g.result = result
	if g.JSON {
		writeJSON(g.IO.Out, result)
		return nil
	}
	printReleases(g, o, first.Target, out, next)
	return nil
}

// listReleases follows next_cursor until it has limit releases or the
// listing ends, and returns the cursor to continue from ("" at the end).
func listReleases(ctx context.Context, s *remote.Session, req protocol.ReleasesListRequest, limit int) ([]protocol.ReleaseEntry, string, error) {
	var out []protocol.ReleaseEntry
	seen := map[string]bool{}
	// An adapter may answer short (even empty) pages with a cursor; this
	// bounds how long one that never ends can keep us going.
	for pages := 0; pages < limit+1000; pages++ {
		req.Limit = min(limit-len(out), protocol.MaxReleasesLimit)
		resp, err := workflow.Call(ctx, protocol.CmdReleasesList, func(ctx context.Context) (*protocol.ReleasesListResponse, error) {
			return s.ReleasesList(ctx, &req)
		})
		if err != nil {
			return nil, "", err
		}
		for _, e := range resp.Releases {
			if seen[e.ReleaseID] {
				return nil, "", errcode.New(errcode.ProtocolMismatch, "adapter %q listed release %s twice", s.Resolved().Adapter, adapterText(e.ReleaseID))
			}
			seen[e.ReleaseID] = true
			out = append(out, e)
		}
		if resp.NextCursor == "" {
			return out, "", nil
		}
		if resp.NextCursor == req.Cursor {
			return nil, "", errcode.New(errcode.ProtocolMismatch, "adapter %q answered the cursor it was given: the listing would never end", s.Resolved().Adapter)
		}
		req.Cursor = resp.NextCursor
		if len(out) >= limit {
			return out, req.Cursor, nil
		}
	}
	return out, req.Cursor, nil
}

// printReleases prints the table (adapter text made terminal-safe).
func printReleases(g *Globals, o *releasesOptions, t protocol.TargetConfig, rels []releaseJSON, next string) {
	where := o.Remote
	if scope := strings.Trim(t.Workspace+"/"+t.Environment, "/"); scope != "" {
		where += " (" + scope + ")"
	}
	what := "Releases"
	if t.Stream != "" {
		what += " of stream " + adapterText(t.Stream)
	}
	if len(o.Labels) > 0 {
		what += " labelled " + adapterText(strings.Join(o.Labels, ", "))
	}
	if len(rels) == 0 {
		g.out("No %s in %s.\n", strings.ToLower(what[:1])+what[1:], where)
		if o.Cursor == "" && t.Stream == "" && len(o.Labels) == 0 {
			g.out("\nPush one:\n  •  epack push %s <pack.epack>\n", o.Remote)
		}
		return
	}
	g.out("%s in %s, newest first:\n\n", what, where)
	if g.Quiet || g.JSON {
		return
	}
	signed, retained := false, false
	for _, r := range rels {
		signed = signed || len(r.Signers) > 0
		retained = retained || r.Retention != nil
	}
	tw := tabwriter.NewWriter(g.IO.Out, 2, 4, 2, ' ', 0)
	head := "  RELEASE\tCREATED\tSTREAM\tVERSION\tLABELS\tSIZE\tPACK DIGEST\tFILE DIGEST"
	if signed {
		head += "\tSIGNERS"
	}
	if retained {
		head += "\tRETAINED UNTIL"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rels {
		line := fmt.Sprintf("  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", adapterText(r.ReleaseID), r.CreatedAt.Format("2006-01-02 15:04:05Z"),
			adapterText(r.Stream), dash(adapterText(r.Version)), dash(adapterText(strings.Join(r.Labels, ","))), formatSize(r.SizeBytes),
			dash(shortDigest(adapterText(r.PackDigest), g.Verbose)), shortDigest(adapterText(r.FileDigest), g.Verbose))
		if signed {
			var who []string
			for _, s := range r.Signers {
				who = append(who, signerCell(s, g.Verbose))
			}
			line += "\t" + dash(strings.Join(who, ","))
		}
		if retained {
			line += "\t" + retainedCell(r.Retention)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if next != "" {
		more := []string{"epack releases", o.Remote}
		if o.Stream != "" {
			more = append(more, "--stream", shellWord(o.Stream))
		}
		for _, l := range o.Labels {
			more = append(more, "--label", shellWord(l))
		}
		more = append(more, "--cursor", shellWord(next))
		g.out("\nMore releases follow: %s\n", adapterText(strings.Join(more, " ")))
	}
}

// signerCell is one signer in the SIGNERS column: "key:ab12cd34ef56…"
// (the whole key id with --verbose) or "keyless:alice@example.com",
// followed by "(verified)" when the pushing host checked it against its
// signer policy; without it the signer is what the pack claims, unchecked.
// An unchecked key signature names no key: "key:?".
func signerCell(s protocol.ReleaseSigner, verbose bool) string {
	who := s.Subject
	if s.Kind != protocol.SignerKeyless {
		who = s.KeyID
		if len(who) > 12 && !verbose {
			who = who[:12] + "…"
		}
	}
	who = workflow.FirstNonEmpty(who, s.Signer, "?")
	cell := adapterText(s.Kind + ":" + who)
	if s.Verified {
		cell += "(verified)"
	}
	return cell
}

// retainedCell is the RETAINED UNTIL column: "2033-12-01 09:00:01Z
// (COMPLIANCE)", with ", legal hold" when held; "-" for none.
func retainedCell(r *protocol.Retention) string {
	if r == nil {
		return "-"
	}
	until := "?"
	if u := r.Until(); !u.IsZero() {
		until = u.Format("2006-01-02 15:04:05Z")
	}
	return adapterText(until + " (" + r.Terms() + ")")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellWord quotes s for a shell when it holds anything but plain characters.
func shellWord(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@=,+", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
