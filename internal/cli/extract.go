package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/pack"
)

// extractOptions are the arguments of 'epack extract'.
type extractOptions struct {
	g *Globals
	// Pack is the pack file; Paths the manifest paths to extract (none: all).
	Pack  string
	Paths []string
	// Output is the folder written to; empty means defaultExtractDir(Pack).
	Output string
	// All is the existing tool's --all: every artifact (also the default
	// without paths).
	All   bool
	Force bool
}

// extractTempPattern names the temporary files written beside each
// destination while its bytes are checked.
const extractTempPattern = ".epack-extract-*.tmp"

// newCmdExtract builds 'epack extract'; runF runs the parsed options (nil: runExtract).
func newCmdExtract(g *Globals, runF func(context.Context, *extractOptions) error) *cobra.Command {
	o := &extractOptions{g: g}
	if runF == nil {
		runF = runExtract
	}
	cmd := &cobra.Command{
		Use:   "extract <pack> [paths...]",
		Short: "Write a pack's artifacts to a folder, every byte checked against its digest",
		Long: `Extract artifacts from an evidence pack: all of them, or only the manifest
paths given (artifacts/iam.json or just iam.json). Each file keeps its manifest
path below the output folder: artifacts/iam/users.json is written to
<folder>/artifacts/iam/users.json.

The output folder is -o <folder>. Without -o it is a new folder named after
the pack in the current folder: ./acme for acme.epack (./<name>.extracted when
the pack's name does not end in .epack), never the current folder itself. It
is created when missing (folders 0755, files 0644).

Every artifact is streamed into a temporary file beside its destination and
checked against the manifest's size and SHA-256 digest; files are moved into
place only when every selected artifact has passed, so a tampered pack leaves
nothing behind. Before anything is written every destination is checked:
  - a path that would leave the output folder is refused;
  - no symbolic link is followed: a link at the output folder, at a folder
    below it or at a destination file is refused (a link above the output
    folder, in the path you typed, is refused when the folder must be created
    in it; use the real path);
  - an existing file is replaced only with --force.
Signatures are not checked here; use 'epack verify' first when they matter.

Exit status: 0 extracted; 2 a requested path is not in the manifest, or the
pack is malformed; 11 an artifact does not match its digest or size;
1 a symbolic link, an existing file without --force, or a write error.`,
		Example: `  epack extract dist/acme.epack -o evidence/
  epack extract dist/acme.epack iam.json artifacts/repos.csv -o review/
  epack extract dist/acme.epack -o evidence/ --force --json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pack, o.Paths = args[0], args[1:]
			if o.All && len(o.Paths) > 0 {
				return usageError(cmd, "--all cannot be combined with artifact paths")
			}
			if cmd.Flags().Changed("output") && strings.TrimSpace(o.Output) == "" {
				return errcode.New(errcode.InvalidInput, "--output is blank").
					WithHint("name the folder to extract into, or leave -o out for ./<pack name>")
			}
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "folder to extract into (default ./<pack name without .epack>)")
	f.BoolVar(&o.Force, "force", false, "replace existing files (never symbolic links or folders)")
	f.BoolVar(&o.All, "all", false, "extract every artifact (the default without paths)")
	return cmd
}

// defaultExtractDir is the folder extract writes to without -o: the pack's
// file name without .epack, in the current folder.
func defaultExtractDir(packPath string) string {
	base := filepath.Base(packPath)
	name := strings.TrimSuffix(base, ".epack")
	if name == "" || name == base {
		name = base + ".extracted"
	}
	return name
}

// runExtract checks everything it can before writing, stages every selected
// artifact in verified temporary files and only then moves them into place.
func runExtract(ctx context.Context, o *extractOptions) error {
	g := o.g
	p, err := pack.Open(o.Pack)
	if err != nil {
		return err
	}
	defer p.Close()
	arts, err := selectArtifacts(p.Artifacts(), o.Paths, o.Pack)
	if err != nil {
		return err
	}
	if err := checkExtractPaths(arts); err != nil {
		return err
	}
	out := o.Output
	if out == "" {
		out = defaultExtractDir(o.Pack)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "output folder %q", out)
	}
	files := []string{}
	paths := []string{}
	var total int64
	for _, a := range arts {
		files = append(files, filepath.Join(abs, filepath.FromSlash(a.Path)))
		paths = append(paths, a.Path)
		total += a.Size
	}
	if len(arts) > 0 {
		x, err := newExtraction(abs, o.Force)
		if err != nil {
			return err
		}
		if err := x.preflight(arts); err != nil {
			return err
		}
		if err := x.run(ctx, p, arts); err != nil {
			x.rollback()
			return err
		}
	}
	if g.JSON {
		// The existing tool's keys (COMPAT §10.4) first, then ours.
		writeJSON(g.IO.Out, map[string]any{"count": len(files), "extracted": files, "output": abs,
			"ok": true, "artifacts": paths, "artifact_bytes": total})
		return nil
	}
	if len(arts) == 0 {
		g.out("No artifacts to extract in %s\n", termtext.Line(o.Pack))
		return nil
	}
	g.out("%s Extracted %d artifact(s) (%s) to %s\n", g.okMark(), len(arts), formatSize(total), termtext.Line(abs))
	for _, a := range arts {
		g.out("  %s\n", termtext.Line(a.Path))
	}
	return nil
}

// selectArtifacts returns the requested artifacts in the order asked
// (duplicates once), or all of them without a request. A request names a
// manifest path exactly or without its "artifacts/" prefix. Every unknown
// request is named in one error.
func selectArtifacts(arts []pack.Artifact, req []string, packPath string) ([]pack.Artifact, error) {
	if len(req) == 0 {
		return arts, nil
	}
	byPath := make(map[string]int, len(arts))
	for i, a := range arts {
		byPath[a.Path] = i
	}
	var out []pack.Artifact
	var unknown []string
	seen := map[int]bool{}
	for _, r := range req {
		i, ok := byPath[r]
		if !ok {
			i, ok = byPath["artifacts/"+r]
		}
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", r))
		case !seen[i]:
			seen[i] = true
			out = append(out, arts[i])
		}
	}
	if len(unknown) > 0 {
		return nil, errcode.New(errcode.InvalidInput, "not in the manifest of %s: %s", packPath, strings.Join(unknown, ", ")).
			WithHint("run 'epack list %s' for the artifact paths", packPath)
	}
	return out, nil
}

// checkExtractPaths is defence in depth behind pack.Open: every path must be
// a clean, relative path below artifacts/ that names no folder of another,
// so no destination can leave the output folder or land on another one.
func checkExtractPaths(arts []pack.Artifact) error {
	keys := make(map[string]string, len(arts))
	for _, a := range arts {
		p := a.Path
		if err := pack.ValidatePath(p); err != nil {
			return errcode.Wrap(errcode.PathTraversal, err, "refusing to extract %q", p)
		}
		if !strings.HasPrefix(p, "artifacts/") || path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)) {
			return errcode.New(errcode.PathTraversal, "refusing to extract %q: not a plain path below artifacts/", p)
		}
		key := strings.ToLower(p)
		if prev, dup := keys[key]; dup {
			return errcode.New(errcode.DuplicatePath, "refusing to extract %q and %q: they name the same file on some file systems", prev, p)
		}
		keys[key] = p
	}
	for key, p := range keys {
		for i := 0; i < len(key); i++ {
			if key[i] == '/' {
				if file, clash := keys[key[:i]]; clash {
					return errcode.New(errcode.DuplicatePath, "refusing to extract %q: %q is a file", p, file)
				}
			}
		}
	}
	return nil
}

// extraction writes artifacts below one output folder. Every folder and
// file is reached through safefile from anchor, the deepest folder of the
// output path that exists, so no symbolic link below it is followed.
type extraction struct {
	anchor string // an existing folder: the output folder or one above it
	base   string // the output folder relative to anchor ("" when it exists), slash-separated
	force  bool

	exists  map[string]bool // folders (relative to anchor) known to exist
	fresh   map[string]bool // destinations (relative to anchor) that were absent before
	created []string        // folders this run created, in creation order
	staged  []stagedFile
}

// stagedFile is one verified temporary file and where it goes.
type stagedFile struct {
	dir, tmp, name string // folder relative to anchor, temp and final names in it
	done           bool   // moved into place
}

// newExtraction finds the deepest existing folder of abs.
func newExtraction(abs string, force bool) (*extraction, error) {
	anchor := abs
	for {
		_, err := os.Lstat(anchor)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, errcode.Wrap(errcode.IOError, err, "output folder %s", abs)
		}
		parent := filepath.Dir(anchor)
		if parent == anchor {
			return nil, errcode.Wrap(errcode.IOError, err, "output folder %s", abs)
		}
		anchor = parent
	}
	rel, err := filepath.Rel(anchor, abs)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "output folder %s", abs)
	}
	if rel == "." {
		rel = ""
	}
	return &extraction{anchor: anchor, base: filepath.ToSlash(rel), force: force,
		exists: map[string]bool{}, fresh: map[string]bool{}}, nil
}

// destination returns the folder (relative to anchor) and file name of an
// artifact.
func (x *extraction) destination(a pack.Artifact) (string, string) {
	rel := path.Join(x.base, a.Path)
	return path.Dir(rel), path.Base(rel)
}

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// preflight checks every destination without writing anything: the anchor
// is a real folder, no folder on the way is a link or a file, and no
// destination exists unless --force allows replacing a regular file.
func (x *extraction) preflight(arts []pack.Artifact) error {
	root, err := safefile.OpenDir(x.anchor, "", false, 0)
	if err != nil {
		return outputFolderError(err)
	}
	root.Close()
	missing := map[string]bool{}
	for _, a := range arts {
		dir, name := x.destination(a)
		key := path.Join(dir, name)
		if x.base != "" || missing[dir] {
			x.fresh[key] = true
			continue
		}
		d, err := safefile.OpenDir(x.anchor, dir, false, 0)
		if notExist(err) {
			missing[dir] = true
			x.fresh[key] = true
			continue
		}
		if err != nil {
			return err
		}
		mode, err := d.Lstat(name)
		d.Close()
		full := filepath.Join(x.anchor, filepath.FromSlash(key))
		switch {
		case notExist(err):
			x.fresh[key] = true
		case err != nil:
			return err
		case mode&fs.ModeSymlink != 0:
			return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to write through it", full).
				WithHint("remove the link; epack never writes through symbolic links")
		case mode.IsDir():
			return errcode.New(errcode.InvalidPath, "%s is a folder, where %s would be written", full, a.Path)
		case !mode.IsRegular():
			return errcode.New(errcode.InvalidPath, "%s is not a regular file; refusing to replace it", full)
		case !x.force:
			return errcode.New(errcode.OutputExists, "%s already exists", full).
				WithHint("pass --force to replace existing files, or extract into another folder with -o")
		}
	}
	return nil
}

// outputFolderError adds a hint to a refused output folder.
func outputFolderError(err error) error {
	if errcode.Has(err, errcode.SymlinkNotAllowed) {
		return errcode.Wrap(errcode.SymlinkNotAllowed, err, "output folder refused").
			WithHint("extract into a real folder (give its real path with -o); epack never writes through symbolic links")
	}
	return err
}

// run stages every artifact, then moves them all into place.
func (x *extraction) run(ctx context.Context, p *pack.Pack, arts []pack.Artifact) error {
	for _, a := range arts {
		if err := x.stage(ctx, p, a); err != nil {
			return err
		}
	}
	for i := range x.staged {
		s := &x.staged[i]
		d, err := safefile.OpenDir(x.anchor, s.dir, false, 0)
		if err != nil {
			return err
		}
		f, err := d.OpenFile(s.tmp)
		if err == nil {
			err = d.Commit(f, s.name, x.force)
		}
		d.Close()
		if err != nil {
			return err
		}
		s.done = true
	}
	return nil
}

// stage streams one artifact into a temporary file beside its destination;
// the pack's reader fails instead of ending when size or digest differ.
func (x *extraction) stage(ctx context.Context, p *pack.Pack, a pack.Artifact) error {
	if err := ctx.Err(); err != nil {
		return errcode.Wrap(errcode.Canceled, err, "extract canceled")
	}
	dir, name := x.destination(a)
	if err := x.mkdirs(dir); err != nil {
		return outputFolderError(err)
	}
	d, err := safefile.OpenDir(x.anchor, dir, false, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	tmp, err := d.CreateTemp(extractTempPattern)
	if err != nil {
		return err
	}
	x.staged = append(x.staged, stagedFile{dir: dir, tmp: filepath.Base(tmp.Name()), name: name})
	defer tmp.Close()
	rc, err := p.OpenArtifact(a.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(tmp, ctxReader{ctx, rc}); err != nil {
		if errcode.Of(err) != "" {
			return err
		}
		return errcode.Wrap(errcode.IOError, err, "writing %s", filepath.Join(d.Path(), name))
	}
	if err := tmp.Chmod(0o644); err != nil {
		return errcode.Wrap(errcode.IOError, err, "setting permissions on %s", tmp.Name())
	}
	return tmp.Close()
}

// mkdirs makes sure every folder of dir (relative to anchor) exists,
// creating the missing ones one at a time so that it knows which it made.
func (x *extraction) mkdirs(dir string) error {
	parts := strings.Split(dir, "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		if x.exists[sub] {
			continue
		}
		d, err := safefile.OpenDir(x.anchor, sub, false, 0)
		if notExist(err) {
			if d, err = safefile.OpenDir(x.anchor, sub, true, 0o755); err == nil {
				x.created = append(x.created, sub)
			}
		}
		if err != nil {
			return err
		}
		d.Close()
		x.exists[sub] = true
	}
	return nil
}

// rollback removes what a failed extraction wrote: temporary files, files
// it moved into place where nothing was before, and the folders it created
// (only while empty). A file that --force already replaced keeps its new,
// verified content.
func (x *extraction) rollback() {
	for i := len(x.staged) - 1; i >= 0; i-- {
		s := x.staged[i]
		d, err := safefile.OpenDir(x.anchor, s.dir, false, 0)
		if err != nil {
			continue
		}
		switch {
		case !s.done:
			_ = d.Remove(s.tmp)
		case x.fresh[path.Join(s.dir, s.name)]:
			_ = d.Remove(s.name)
		}
		d.Close()
	}
	for i := len(x.created) - 1; i >= 0; i-- {
		// rmdir never removes a file or follows a link.
		_ = syscall.Rmdir(filepath.Join(x.anchor, filepath.FromSlash(x.created[i])))
	}
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, errcode.Wrap(errcode.Canceled, err, "extract canceled")
	}
	return c.r.Read(b)
}
