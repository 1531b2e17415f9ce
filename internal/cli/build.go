package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/pack"
	"github.com/spf13/cobra"
)

// buildOptions are the arguments and flags of 'epack build'.
type buildOptions struct {
	g *Globals

	Out         string   // the pack to write
	Paths       []string // positional files, stored as artifacts/<basename>
	Stream      string
	Files       []string // --file src:dest
	StdinDest   string
	Sources     []string
	ContentType string
}

// newCmdBuild builds 'epack build'; runF runs the parsed options (nil: runBuild).
func newCmdBuild(g *Globals, runF func(context.Context, *buildOptions) error) *cobra.Command {
	f := &buildOptions{g: g}
	if runF == nil {
		runF = runBuild
	}
	cmd := &cobra.Command{
		Use:   "build <out.epack> [files...]",
		Short: "Build an evidence pack from files",
		Long: `Build an evidence pack. Each positional file is stored as artifacts/<basename>;
--file src:dest stores src as artifacts/<dest>; --stdin dest stores standard input.
The pack is written to a temp file next to <out.epack> and renamed into place.`,
		Example: `  epack build evidence.epack iam.json repos.csv --stream acme/prod --source aws:1.2.0
  epack build out.epack --stream acme/prod --file report.md:reports/q1.md
  cat scan.json | epack build out.epack --stream acme/prod --stdin scans/scan.json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Out, f.Paths = args[0], args[1:]
			return runF(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Stream, "stream", "", "evidence stream, for example acme/prod (required)")
	fl.StringArrayVar(&f.Files, "file", nil, "add file src as artifacts/<dest> (src:dest, repeatable)")
	fl.StringVar(&f.StdinDest, "stdin", "", "add standard input as artifacts/<dest>")
	fl.StringArrayVar(&f.Sources, "source", nil, "record a source collector name:version (repeatable)")
	fl.StringVar(&f.ContentType, "content-type", "", "content type recorded for the added artifacts")
	return cmd
}

// artifactDest turns a user-given destination into a name under artifacts/.
func artifactDest(dest string) string { return strings.TrimPrefix(dest, "artifacts/") }

// runBuild writes the pack.
func runBuild(ctx context.Context, f *buildOptions) error {
	g, out, files := f.g, f.Out, f.Paths
	if f.Stream == "" {
		return errcode.New(errcode.InvalidInput, "--stream is required").WithHint("for example: epack build %s --stream acme/prod", out)
	}
	// The stream is checked with the registries' own rule, so a pack that
	// builds is a pack every registry accepts (reading others' packs does
	// not apply this rule).
	if err := names.Check(names.Stream, f.Stream); err != nil {
		return fmt.Errorf("--stream: %w", err)
	}
	b := pack.NewBuilder(f.Stream)
	for _, s := range f.Sources {
		name, version, _ := strings.Cut(s, ":")
		if name == "" {
			return errcode.New(errcode.InvalidInput, "--source %q: name is empty", s).WithHint("use --source name:version")
		}
		b.AddSource(name, version)
	}
	opts := pack.ArtifactOptions{ContentType: f.ContentType}
	for _, src := range files {
		g.verbose("adding %s as artifacts/%s\n", src, filepath.Base(src))
		if err := b.AddFile(filepath.Base(src), src, opts); err != nil {
			return err
		}
	}
	for _, spec := range f.Files {
		i := strings.LastIndex(spec, ":")
		if i <= 0 || i == len(spec)-1 {
			return errcode.New(errcode.InvalidInput, "--file %q must be src:dest", spec).WithHint("for example --file ./iam.json:aws/iam.json")
		}
		src, dest := spec[:i], artifactDest(spec[i+1:])
		g.verbose("adding %s as artifacts/%s\n", src, dest)
		if err := b.AddFile(dest, src, opts); err != nil {
			return err
		}
	}
	if f.StdinDest != "" {
		g.verbose("adding standard input as artifacts/%s\n", artifactDest(f.StdinDest))
		if err := b.AddReader(artifactDest(f.StdinDest), g.IO.In, opts); err != nil {
			return err
		}
	}
	res, err := b.WriteFile(ctx, out)
	if err != nil {
		return err
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{
			"ok": true, "path": res.Path, "stream": res.Manifest.Stream, "generated_at": res.Manifest.GeneratedAt,
			"artifacts": len(res.Manifest.Artifacts), "size_bytes": res.Size,
			"pack_digest": res.Manifest.PackDigest, "manifest_digest": res.ManifestDigest,
		})
		return nil
	}
	g.out("%s Built %s (%d artifacts, %s)\n", g.okMark(), res.Path, len(res.Manifest.Artifacts), formatSize(res.Size))
	g.out("  stream:          %s\n", termSafe(res.Manifest.Stream))
	g.out("  pack_digest:     %s\n", res.Manifest.PackDigest)
	g.out("  manifest_digest: %s\n", res.ManifestDigest)
	if g.Verbose {
		for _, a := range res.Manifest.Artifacts {
			g.out("  %s  %s  %s\n", a.Digest, fmt.Sprintf("%10d", a.Size), a.Path)
		}
	}
	return nil
}
