package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evidencerelay/epack/config"
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
	Excludes    []string
	Force       bool
}

// newCmdBuild builds 'epack build'; runF runs the parsed options (nil: runBuild).
func newCmdBuild(g *Globals, runF func(context.Context, *buildOptions) error) *cobra.Command {
	f := &buildOptions{g: g}
	if runF == nil {
		runF = runBuild
	}
	cmd := &cobra.Command{
		Use:   "build <out.epack> [files or folders...]",
		Short: "Build an evidence pack from files and folders",
		Long: `Build an evidence pack. Each positional file is stored as artifacts/<basename>;
each positional folder is added recursively, its files stored under their path
inside the folder (artifacts/<path below the folder>), in sorted order, skipping
what --exclude matches (a glob against the path below the folder or the file
name; repeatable); symbolic links inside folders are refused. --file src:dest
stores src as artifacts/<dest>; --stdin dest stores standard input. Each
artifact may be at most 100 MiB.

The stream comes from --stream, or else from stream: in the project's
epack.yaml. The pack is written to a temp file next to <out.epack> (mode 0644)
and moved into place; an existing <out.epack> is only replaced with --force.

The output shows the pack digest (what the manifest commits to; stays the same
when the pack is signed) and the file digest (the SHA-256 of the file: what
registries key packs by and what 'epack pull --digest' takes).`,
		Example: `  epack build evidence.epack iam.json repos.csv --source aws:1.2.0
  epack build evidence.epack evidence/ --exclude '*.tmp' --exclude 'drafts/*'
  epack build out.epack --stream acme/prod --file report.md:reports/q1.md
  cat scan.json | epack build out.epack --stdin scans/scan.json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Out, f.Paths = args[0], args[1:]
			return runF(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Stream, "stream", "", "evidence stream, for example acme/prod (default: stream: in epack.yaml)")
	fl.StringArrayVar(&f.Files, "file", nil, "add file src as artifacts/<dest> (src:dest, repeatable)")
	fl.StringVar(&f.StdinDest, "stdin", "", "add standard input as artifacts/<dest>")
	fl.StringArrayVar(&f.Sources, "source", nil, "record a source collector name:version (repeatable)")
	fl.StringVar(&f.ContentType, "content-type", "", "content type recorded for the added artifacts")
	fl.StringArrayVar(&f.Excludes, "exclude", nil, "skip files in folders whose path or name matches this glob (repeatable)")
	fl.BoolVar(&f.Force, "force", false, "replace an existing output pack")
	return cmd
}

// projectStream is stream: of the project around the working folder ("" when
// there is none).
func projectStream() string {
	dir, err := workingDir()
	if err != nil {
		return ""
	}
	p, err := config.LoadProject(dir)
	if err != nil || p.Config == nil {
		return ""
	}
	return strings.TrimSpace(p.Config.Stream)
}

// addFolder adds every regular file below root (sorted, recursively) as
// artifacts/<path below root>, skipping excluded paths.
func addFolder(g *Globals, b *pack.Builder, root string, excludes []string, opts pack.ArtifactOptions, origin map[string]string) error {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "reading folder %s", root)
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && excluded(rel, excludes) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; folders are added without following links", p).
				WithHint("add the file it points to with --file %s:<name>, or --exclude it", p)
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return errcode.New(errcode.InvalidInput, "%s is not a regular file", p).WithHint("--exclude it")
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, rel := range files {
		src := filepath.Join(root, filepath.FromSlash(rel))
		if err := addArtifact(g, b, rel, src, opts, origin); err != nil {
			return err
		}
	}
	return nil
}

// excluded matches rel (slash-separated) or its base name against the globs.
func excluded(rel string, globs []string) bool {
	for _, gl := range globs {
		if ok, _ := path.Match(gl, rel); ok {
			return true
		}
		if ok, _ := path.Match(gl, path.Base(rel)); ok {
			return true
		}
	}
	return false
}

// addArtifact adds src as artifacts/<name>, explaining a name clash.
func addArtifact(g *Globals, b *pack.Builder, name, src string, opts pack.ArtifactOptions, origin map[string]string) error {
	g.verbose("adding %s as artifacts/%s\n", src, name)
	if err := b.AddFile(name, src, opts); err != nil {
		if errcode.Has(err, errcode.DuplicatePath) {
			return errcode.Wrap(errcode.DuplicatePath, err, "%s and %s would both be stored as artifacts/%s", origin[name], src, name).
				WithHint("give one of them another name with --file %s:<other/name>", src)
		}
		return err
	}
	origin[name] = src
	return nil
}

// artifactDest turns a user-given destination into a name under artifacts/.
func artifactDest(dest string) string { return strings.TrimPrefix(dest, "artifacts/") }

// runBuild writes the pack.
func runBuild(ctx context.Context, f *buildOptions) error {
	g, out, files := f.g, f.Out, f.Paths
	if f.Stream == "" {
		f.Stream = projectStream()
	}
	if f.Stream == "" {
		return errcode.New(errcode.InvalidInput, "no stream: give --stream, or set stream: in epack.yaml").
			WithHint("for example: epack build %s --stream acme/prod", out)
	}
	// The stream is checked with the registries' own rule, so a pack that
	// builds is a pack every registry accepts (reading others' packs does
	// not apply this rule).
	if err := names.Check(names.Stream, f.Stream); err != nil {
		return fmt.Errorf("--stream: %w", err)
	}
	b := pack.NewBuilder(f.Stream)
	b.NoReplace = !f.Force
	origin := map[string]string{}
	for _, s := range f.Sources {
		name, version, _ := strings.Cut(s, ":")
		if name == "" {
			return errcode.New(errcode.InvalidInput, "--source %q: name is empty", s).WithHint("use --source name:version")
		}
		b.AddSource(name, version)
	}
	opts := pack.ArtifactOptions{ContentType: f.ContentType}
	for _, src := range files {
		st, err := os.Stat(src)
		if err == nil && st.IsDir() {
			if err := addFolder(g, b, src, f.Excludes, opts, origin); err != nil {
				return err
			}
			continue
		}
		if err := addArtifact(g, b, filepath.Base(src), src, opts, origin); err != nil {
			return err
		}
	}
	for _, spec := range f.Files {
		i := strings.LastIndex(spec, ":")
		if i <= 0 || i == len(spec)-1 {
			return errcode.New(errcode.InvalidInput, "--file %q must be src:dest", spec).WithHint("for example --file ./iam.json:aws/iam.json")
		}
		src, dest := spec[:i], artifactDest(spec[i+1:])
		if err := addArtifact(g, b, dest, src, opts, origin); err != nil {
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
			"artifacts": len(res.Manifest.Artifacts), "artifact_count": len(res.Manifest.Artifacts), "size_bytes": res.Size,
			"pack_digest": res.Manifest.PackDigest, "manifest_digest": res.ManifestDigest, "file_digest": res.File.SHA256,
			"manifest_digest_sha256": res.ManifestDigest,
		})
		return nil
	}
	g.out("%s Built %s (%d artifacts, %s)\n", g.okMark(), res.Path, len(res.Manifest.Artifacts), formatSize(res.Size))
	g.out("  stream:          %s\n", termSafe(res.Manifest.Stream))
	g.out("  file digest:     %s  (pull --digest, registries)\n", res.File.SHA256)
	g.out("  pack_digest:     %s  (the artifacts; unchanged by signing)\n", res.Manifest.PackDigest)
	g.out("  manifest_digest: %s  (what signatures cover)\n", res.ManifestDigest)
	if g.Verbose {
		for _, a := range res.Manifest.Artifacts {
			g.out("  %s  %s  %s\n", a.Digest, fmt.Sprintf("%10d", a.Size), a.Path)
		}
	}
	return nil
}
