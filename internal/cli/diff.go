package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/pull"
)

// diffOptions are the arguments of 'epack diff'.
type diffOptions struct {
	g    *Globals
	A, B string

	// ExitCode makes a difference exit 1, like git diff --exit-code.
	ExitCode bool

	// For a <remote>:<ref> side, as for 'epack pull'.
	Env                        string
	Frozen, AllowUnpinned, Yes bool

	// Stream and AllStreams choose where latest and versions are looked
	// up, as for 'epack pull' (default: the project's stream).
	Stream     string
	AllStreams bool
}

// newCmdDiff builds 'epack diff'; runF runs the parsed options (nil: runDiff).
func newCmdDiff(g *Globals, runF func(context.Context, *diffOptions) error) *cobra.Command {
	o := &diffOptions{g: g}
	if runF == nil {
		runF = runDiff
	}
	cmd := &cobra.Command{
		Use:   "diff <a> <b>",
		Short: "Compare the artifacts of two packs (files or releases of a remote)",
		Long: `Compare two evidence packs artifact by artifact: added (only in <b>), removed
(only in <a>), changed (same path, different digest) and unchanged.

Each side is a pack file or <remote>:<ref>, a release of a remote configured
in epack.yaml, where <ref> is latest, a release id (rel_…), a version (v1.2.3)
or a pack file digest (sha256:…). Instead of a remote, a side may name a
registry by its URL, as 'epack pull' takes it (file:///path, s3://…, oci://…,
with ?workspace=…&environment=…), followed by :<ref>; only the adapter bundled
with epack runs for it, and no epack.yaml is needed. Latest and versions are looked up in the
project's stream (stream: in epack.yaml), or the one --stream names;
--all-streams looks across every stream, as for 'epack pull'. A remote side is pulled like 'epack pull'
does (size and digest checked against what the registry announced, the
remote's signer policy applied) into a private temporary folder that is
removed afterwards; no pull receipt is recorded for it. A path that exists is
always a file, even when it contains ':'; write ./name to make sure a missing
file is never taken for a remote.

Both packs are fully verified (every artifact's size and digest and
pack_digest) before they are compared; signatures of a local file are not
checked here (use 'epack verify'). Manifest fields other than the artifacts'
paths and digests are not compared.

Exit status: 0 whether or not the packs differ; with --exit-code, 1 when they
differ. Errors exit as usual: 2 a missing or malformed pack, 11 a digest
mismatch.`,
		Example: `  epack diff old.epack new.epack
  epack diff origin:v1.0.0 origin:latest --json
  epack diff dist/acme.epack origin:latest --exit-code --frozen
  epack diff "file:///srv/evidence?workspace=acme&environment=prod:v1.0.0" acme.epack`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseBlankFlags(cmd, "env", "stream"); err != nil {
				return err
			}
			if o.Stream != "" && o.AllStreams {
				return errcode.New(errcode.InvalidInput, "--stream and --all-streams cannot be used together")
			}
			o.A, o.B = args[0], args[1]
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ExitCode, "exit-code", false, "exit 1 when the packs differ (0 when they do not)")
	f.StringVar(&o.Env, "env", "", "apply environments.<env> overrides from epack.yaml to remote sides")
	f.StringVar(&o.Stream, "stream", "", "look up latest and versions in this stream (default: stream: in epack.yaml)")
	f.BoolVar(&o.AllStreams, "all-streams", false, "look up latest and versions across every stream, not only the project's")
	f.BoolVar(&o.Frozen, "frozen", false, "refuse any adapter that is not pinned and verified in epack.lock.yaml")
	f.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to prompts (install a missing adapter)")
	f.BoolVar(&o.AllowUnpinned, "insecure-allow-unpinned", allowUnpinnedFromEnv(), "run an adapter that is not pinned in epack.lock.yaml (audited)")
	return cmd
}

// diffSide is one pack being compared.
type diffSide struct {
	spec string // as the user wrote it
	file string // the pack file read (a temporary file for a remote side)

	remote, ref string // a <remote>:<ref> side
	pulled      *pull.Result
	v           *pack.Verified
}

// parseDiffSide reads spec as a file when it exists or is not of the form
// <remote>:<ref> with a valid remote name or <location>:<ref> with a
// registry URL, and as a release of a remote otherwise.
func parseDiffSide(spec string) (*diffSide, error) {
	s := &diffSide{spec: spec, file: spec}
	if _, err := os.Lstat(spec); err == nil {
		return s, nil
	}
	if strings.Contains(spec, "://") {
		loc, ref := splitLocationRef(spec)
		if ref == "" {
			return nil, errcode.New(errcode.InvalidInput, "%q names a registry location but no release", spec).
				WithHint("write %s:latest, :<version>, :rel_… or :sha256:… after the location", spec)
		}
		s.file, s.remote, s.ref = "", loc, ref
		return s, nil
	}
	name, ref, ok := strings.Cut(spec, ":")
	if !ok || config.CheckName(name) != nil {
		return s, nil
	}
	if ref == "" {
		return nil, errcode.New(errcode.InvalidInput, "%q names remote %q but no release", spec, name).
			WithHint("write %s:latest, %s:<version>, %s:rel_… or %s:sha256:…", name, name, name, name)
	}
	s.file, s.remote, s.ref = "", name, ref
	return s, nil
}

// splitLocationRef splits a trailing :latest, :rel_…, :v… or
// :sha256:<64 hex> off a registry location (from the right: the location
// itself has ':' in it). ref is "" when there is none.
func splitLocationRef(spec string) (loc, ref string) {
	if i := len(spec) - len(":sha256:") - 64; i > 0 && spec[i:i+8] == ":sha256:" && pack.IsDigest(spec[i+1:]) {
		return spec[:i], spec[i+1:]
	}
	i := strings.LastIndex(spec, ":")
	if i < 0 {
		return spec, ""
	}
	tail := spec[i+1:]
	if strings.ContainsAny(tail, "/?&=#") || !(tail == "latest" || (strings.HasPrefix(tail, "rel_") && len(tail) > 4) ||
		(strings.HasPrefix(tail, "v") && len(tail) > 1)) {
		return spec, ""
	}
	return spec[:i], tail
}

// diffRef turns the text after "<remote>:" into a pull reference.
func diffRef(ref string) pull.Ref {
	if ref == "latest" {
		return pull.Ref{Latest: true}
	}
	return pullRef(&pullOptions{}, ref)
}

// runDiff verifies both packs (pulling remote sides first) and compares
// their artifacts.
func runDiff(ctx context.Context, o *diffOptions) error {
	g := o.g
	var sides [2]*diffSide
	for i, spec := range []string{o.A, o.B} {
		s, err := parseDiffSide(spec)
		if err != nil {
			return err
		}
		sides[i] = s
	}
	// Local files first: a bad one fails before any adapter runs.
	for _, s := range sides {
		if s.remote == "" {
			if err := s.verify(ctx); err != nil {
				return err
			}
		}
	}
	if sides[0].remote != "" || sides[1].remote != "" {
		if _, err := execPolicy(o.Frozen, o.AllowUnpinned, "diff_cli").Check(nil); err != nil {
			return err
		}
		dir, err := workingDir()
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "epack-diff-*")
		if err != nil {
			return errcode.Wrap(errcode.IOError, err, "creating a temporary folder")
		}
		defer os.RemoveAll(tmp)
		for i, s := range sides {
			if s.remote == "" {
				continue
			}
			s.file = filepath.Join(tmp, fmt.Sprintf("pack%d.epack", i+1))
			if err := o.pullSide(ctx, s, dir); err != nil {
				return err
			}
			if err := s.verify(ctx); err != nil {
				return err
			}
		}
	}
	d := diffArtifacts(sides[0].v.Manifest.Artifacts, sides[1].v.Manifest.Artifacts)
	if g.JSON {
		writeJSON(g.IO.Out, diffJSON{
			Pack1: sides[0].json(), Pack2: sides[1].json(),
			Added: d.Added, Removed: d.Removed, Changed: d.Changed, Unchanged: d.Unchanged,
			Summary:   diffSummary{len(d.Added), len(d.Removed), len(d.Changed), len(d.Unchanged)},
			Identical: d.identical(),
		})
	} else if !g.Quiet {
		printDiff(g, sides, d)
	}
	if o.ExitCode && !d.identical() {
		return &exitError{code: 1}
	}
	return nil
}

// pullSide downloads a remote side into s.file with the pull library.
func (o *diffOptions) pullSide(ctx context.Context, s *diffSide, dir string) error {
	g := o.g
	g.info("Pulling %s\n", termtext.Line(s.spec))
	ui := newStepUI(g, "Downloading")
	defer ui.Close()
	verify := true
	ref := diffRef(s.ref)
	opts := pull.Options{
		Remote: s.remote, Environment: o.Env, Ref: ref, Output: s.file, Verify: &verify,
		Stream: pullStream(&pullOptions{Stream: o.Stream, AllStreams: o.AllStreams}, ref), ProjectDir: dir,
		NonInteractive: !o.Yes && !canPrompt(g), Stderr: g.IO.ErrOut,
		OnStep: ui.Step, OnDownloadProgress: ui.Progress, PromptInstallAdapter: installPrompt(g, o.Yes),
		NoRedact: g.NoRedact, NoReceipt: true,
	}
	pol := execPolicy(o.Frozen, o.AllowUnpinned, "")
	opts.Secure.Frozen, opts.Secure.StrictProduction = pol.Frozen, pol.StrictProduction
	opts.Unsafe.AllowUnpinned = pol.AllowUnpinned
	res, err := pull.Pull(ctx, opts)
	if err != nil {
		ui.Fail()
		for _, c := range []errcode.Code{errcode.RemoteNotFound, errcode.ProjectNotFound} {
			if errcode.Has(err, c) {
				return errcode.Wrap(c, err, "%s is neither a pack file nor a release of a configured remote", s.spec).
					WithHint("check the file name, or the remote's name in epack.yaml")
			}
		}
		var pe *protocol.Error
		if opts.Stream != "" && o.Stream == "" && errors.As(err, &pe) && pe.Code == protocol.CodeNotFound {
			return errcode.Wrap(errcode.Of(err), err, "%s: no matching release in stream %q", s.spec, opts.Stream).
				WithHint("only the project's stream %q was searched; name another with --stream, or use --all-streams", opts.Stream)
		}
		return fmt.Errorf("%s: %w", s.spec, err)
	}
	s.pulled = res
	return nil
}

// verify opens the side's pack and checks it whole.
func (s *diffSide) verify(ctx context.Context) error {
	f, _, err := pack.OpenRegular(s.file)
	if err != nil {
		return fmt.Errorf("%s: %w", s.spec, err)
	}
	defer f.Close()
	v, err := pack.VerifyFile(ctx, f, verifyNoMD5)
	if err != nil {
		return fmt.Errorf("%s: %w", s.spec, err)
	}
	s.v = v
	return nil
}

// diffResult lists artifact paths by what happened to them, each sorted
// by path bytes.
type diffResult struct {
	Added, Removed, Changed, Unchanged []string
}

func (d diffResult) identical() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// diffArtifacts compares two artifact lists by path and digest. No list
// is nil.
func diffArtifacts(a, b []pack.Artifact) diffResult {
	d := diffResult{Added: []string{}, Removed: []string{}, Changed: []string{}, Unchanged: []string{}}
	inA := make(map[string]string, len(a))
	for _, x := range a {
		inA[x.Path] = x.Digest
	}
	inB := make(map[string]bool, len(b))
	for _, y := range b {
		inB[y.Path] = true
		digest, ok := inA[y.Path]
		switch {
		case !ok:
			d.Added = append(d.Added, y.Path)
		case digest != y.Digest:
			d.Changed = append(d.Changed, y.Path)
		default:
			d.Unchanged = append(d.Unchanged, y.Path)
		}
	}
	for _, x := range a {
		if !inB[x.Path] {
			d.Removed = append(d.Removed, x.Path)
		}
	}
	for _, l := range [][]string{d.Added, d.Removed, d.Changed, d.Unchanged} {
		sort.Strings(l)
	}
	return d
}

// diffJSON is 'diff --json': the existing tool's keys (COMPAT §10.4) in its
// order, then ours.
type diffJSON struct {
	Pack1     diffPackJSON `json:"pack1"`
	Pack2     diffPackJSON `json:"pack2"`
	Added     []string     `json:"added"`
	Removed   []string     `json:"removed"`
	Changed   []string     `json:"changed"`
	Unchanged []string     `json:"unchanged"`
	Summary   diffSummary  `json:"summary"`
	Identical bool         `json:"identical"`
}

type diffSummary struct {
	AddedCount     int `json:"added_count"`
	RemovedCount   int `json:"removed_count"`
	ChangedCount   int `json:"changed_count"`
	UnchangedCount int `json:"unchanged_count"`
}

type diffPackJSON struct {
	Path           string `json:"path"`
	Stream         string `json:"stream"`
	PackDigest     string `json:"pack_digest"`
	ManifestDigest string `json:"manifest_digest"`
	FileDigest     string `json:"file_digest"`
	ArtifactCount  int    `json:"artifact_count"`
	Remote         string `json:"remote,omitempty"`
	Ref            string `json:"ref,omitempty"`
	ReleaseID      string `json:"release_id,omitempty"`
	Version        string `json:"version,omitempty"`
	// ManifestDigestSHA256 is manifest_digest under the name inspect
	// gives its sha256:-prefixed form, so the key means one thing everywhere.
	ManifestDigestSHA256 string `json:"manifest_digest_sha256"`
}

func (s *diffSide) json() diffPackJSON {
	m := s.v.Manifest
	j := diffPackJSON{Path: s.spec, Stream: m.Stream, PackDigest: m.PackDigest, ManifestDigest: s.v.ManifestDigest, ManifestDigestSHA256: s.v.ManifestDigest,
		FileDigest: s.v.File.SHA256, ArtifactCount: len(m.Artifacts), Remote: s.remote, Ref: s.ref}
	if s.pulled != nil {
		j.ReleaseID, j.Version = s.pulled.ReleaseID, s.pulled.Version
	}
	return j
}

// printDiff is the human form: both packs, one +/-/~ line per difference
// (= for unchanged ones with --verbose) and a summary.
func printDiff(g *Globals, sides [2]*diffSide, d diffResult) {
	w := g.IO.Out
	color := func(code, s string) string {
		if !g.IO.ColorEnabled() {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	fmt.Fprintln(w, "Comparing evidence packs")
	for i, s := range sides {
		m := s.v.Manifest
		line := fmt.Sprintf("  %c: %s", 'a'+i, termtext.Line(s.spec))
		if s.pulled != nil {
			var rel []string
			if s.pulled.ReleaseID != "" {
				rel = append(rel, "release "+adapterText(s.pulled.ReleaseID))
			}
			if s.pulled.Version != "" {
				rel = append(rel, "version "+adapterText(s.pulled.Version))
			}
			if len(rel) > 0 {
				line += " (" + strings.Join(rel, ", ") + ")"
			}
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "     stream %s, %d artifact(s), pack_digest %s\n", termtext.Line(m.Stream), len(m.Artifacts), shortDigest(m.PackDigest, g.Verbose))
	}
	fmt.Fprintln(w)
	if d.identical() {
		fmt.Fprintf(w, "%s Packs have the same artifacts\n", g.okMark())
	}
	for _, sec := range []struct {
		mark, color string
		paths       []string
	}{{"+", "32", d.Added}, {"-", "31", d.Removed}, {"~", "33", d.Changed}} {
		for _, p := range sec.paths {
			fmt.Fprintf(w, "  %s %s\n", color(sec.color, sec.mark), termtext.Line(p))
		}
	}
	if g.Verbose {
		for _, p := range d.Unchanged {
			fmt.Fprintf(w, "  = %s\n", termtext.Line(p))
		}
	}
	fmt.Fprintf(w, "\nSummary: %d added, %d removed, %d changed, %d unchanged\n", len(d.Added), len(d.Removed), len(d.Changed), len(d.Unchanged))
}
