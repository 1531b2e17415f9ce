package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/lockfile"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// initRegistryDir is the local registry folder the starter config points at.
const initRegistryDir = ".epack/registry"

// initOptions are the flags of 'epack init'.
type initOptions struct {
	g      *Globals
	Stream string
	Force  bool
}

// newCmdInit builds 'epack init'; runF runs the parsed options (nil: runInit).
func newCmdInit(g *Globals, runF func(context.Context, *initOptions) error) *cobra.Command {
	o := &initOptions{g: g}
	if runF == nil {
		runF = runInit
	}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a starter epack.yaml in the current directory",
		Long: `Create a starter epack.yaml in the current directory.

The file sets the pack stream and one remote, "local", that keeps a registry
in .epack/registry through the filesystem adapter, so 'epack push local' works
at once. It also shows, commented out, how to add an S3-compatible remote.
An existing epack.yaml is only replaced with --force.`,
		Example: `  epack init
  epack init --stream acme/soc2
  epack init --force --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Stream, "stream", "", "pack stream name (default: the directory name)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite an existing epack.yaml")
	return cmd
}

// runInit writes the starter epack.yaml in the current directory, pins
// the bundled filesystem adapter for the "local" remote (what 'epack lock
// local' does) and keeps the local registry and job records out of git.
func runInit(ctx context.Context, o *initOptions) error {
	g := o.g
	wd, err := os.Getwd()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	// Refuse a linked .gitignore before anything is written.
	if st, err := os.Lstat(filepath.Join(wd, ".gitignore")); err == nil && !st.Mode().IsRegular() {
		return errcode.New(errcode.SymlinkNotAllowed, "%s is not a regular file; refusing to write to it", filepath.Join(wd, ".gitignore")).
			WithHint("replace it with a regular file, or add %s to it yourself", strings.Join(gitignoreEntries, " "))
	}
	path, err := writeStarter(wd, o.Stream, o.Force)
	if err != nil {
		return err
	}
	ignored, err := addGitignore(wd)
	if err != nil {
		return err
	}
	// Pinning needs the filesystem adapter beside epack; without it init
	// still succeeds and says how to finish.
	var pinned *lockfile.Pinned
	lockRes, lockErr := lockfile.Lock(ctx, lockfile.LockOptions{ProjectDir: wd, Remotes: []string{"local"}, Stderr: g.IO.ErrOut})
	if lockErr == nil && len(lockRes.Locked) == 1 {
		pinned = &lockRes.Locked[0]
	}
	stream := strings.TrimSpace(o.Stream)
	if stream == "" {
		stream = defaultStream(wd)
	}
	next := []string{
		"epack build evidence.epack <files or folders>",
		"epack push local evidence.epack",
		"epack releases local",
	}
	if pinned == nil {
		next = append([]string{"epack lock local"}, next...)
	}
	if g.JSON {
		out := map[string]any{"created": path, "stream": stream, "gitignore": ignored, "next": next, "locked": []lockfile.Pinned{}}
		if pinned != nil {
			out["locked"] = []lockfile.Pinned{*pinned}
		}
		if lockErr != nil {
			out["lock_error"] = lockErr.Error()
		}
		writeJSON(g.IO.Out, out)
		return nil
	}
	g.out("%s Created %s (stream %s)\n", g.okMark(), path, termSafe(stream))
	g.out("  local registry: %s\n", filepath.Join(wd, filepath.FromSlash(initRegistryDir)))
	if pinned != nil {
		g.out("  pinned adapter: %s %s in %s\n", pinned.Path, pinned.Digest, config.LockFileName)
	} else {
		// init still succeeds: a warning, not a failure, and the lock
		// is the first step of Next, not something to do "again".
		g.out("%s could not pin the filesystem adapter yet: %s\n", g.warnMark(), termSafe(lockErr.Error()))
		if h := initLockHint(lockErr); h != "" {
			g.out("  hint: %s\n", termSafe(h))
		}
	}
	if len(ignored) > 0 {
		g.out("  .gitignore:     %s\n", strings.Join(ignored, " "))
	}
	g.out("Next:\n")
	for _, n := range next {
		g.out("  %s\n", n)
	}
	return nil
}

// initLockHint is the hint for a pin that failed during init: for a
// missing adapter, where it must go (next to epack, as the README says),
// then the lock that Next starts with.
func initLockHint(err error) string {
	if errcode.Has(err, errcode.AdapterNotFound) {
		return "put epack-remote-filesystem next to epack ('go install github.com/evidencerelay/epack/cmd/...@latest' installs both into one folder), then run 'epack lock local'"
	}
	return strings.TrimSuffix(errcode.HintOf(err), " again")
}

// gitignoreEntries are what must not be committed: the local registry
// (pack blobs), background job records, installed source adapters and
// the cache of the adapters' --capabilities answers (remote.CapabilitiesCacheDir).
// Receipts and the lockfile are meant to be committed.
var gitignoreEntries = []string{"/.epack/registry/", "/.epack/jobs/", "/.epack/remotes/", "/.epack/cache/"}

// addGitignore appends the entries .gitignore lacks (creating it) and
// returns the ones added. A .gitignore that is a symbolic link is refused.
func addGitignore(dir string) ([]string, error) {
	path := filepath.Join(dir, ".gitignore")
	st, err := os.Lstat(path)
	var have []byte
	switch {
	case err == nil && !st.Mode().IsRegular():
		return nil, errcode.New(errcode.SymlinkNotAllowed, "%s is not a regular file; refusing to write to it", path).
			WithHint("add %s to it yourself", strings.Join(gitignoreEntries, " "))
	case err == nil:
		if have, err = os.ReadFile(path); err != nil {
			return nil, errcode.Wrap(errcode.IOError, err, "reading %s", path)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, errcode.Wrap(errcode.IOError, err, "cannot inspect %s", path)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(have), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	var add []string
	for _, e := range gitignoreEntries {
		if !lines[e] && !lines[strings.TrimPrefix(e, "/")] && !lines[strings.TrimSuffix(e, "/")] {
			add = append(add, e)
		}
	}
	if len(add) == 0 {
		return []string{}, nil
	}
	var b strings.Builder
	b.Write(have)
	if len(have) > 0 && have[len(have)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("# epack: local registry, job records, installed adapters and caches\n")
	for _, e := range add {
		b.WriteString(e + "\n")
	}
	if err := writeInitFile(path, []byte(b.String()), len(have) > 0); err != nil {
		return nil, err
	}
	return add, nil
}

var streamUnsafe = regexp.MustCompile(`[^a-z0-9._/-]+`)

// defaultStream derives a stream name from the directory name.
func defaultStream(dir string) string {
	s := strings.ToLower(filepath.Base(dir))
	s = strings.Trim(streamUnsafe.ReplaceAllString(s, "-"), "-./")
	if s == "" {
		s = "evidence"
	}
	return s
}

// starterConfig renders the starter epack.yaml for stream.
func starterConfig(stream string) (string, error) {
	q, err := yaml.Marshal(stream)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`# epack.yaml: evidence pack project configuration.
# Remotes are registries that packs are pushed to and pulled from through
# remote adapters (programs named epack-remote-<adapter>).

stream: %s
remotes:
  # A registry in a local folder, handy to try epack out ('epack init'
  # pinned its adapter in epack.lock.yaml):
  #   epack push local evidence.epack
  #   epack releases local
  #   epack pull local
  local:
    adapter: filesystem
    transport:
      file_root: %s

  # A registry in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2,
  # versitygw). Credentials come from the standard AWS chain (environment,
  # shared profile, SSO, instance metadata).
  # origin:
  #   adapter: s3
  #   extensions:
  #     bucket: my-evidence-bucket
  #     region: us-east-1
  #     endpoint: https://s3.example.com   # only for stores other than AWS
  #     path_style: true                   # most non-AWS stores need this
  #   # Adapters get a minimal environment: list the AWS variables they need.
  #   secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION]
  #   target:
  #     workspace: acme
  #     environment: prod

# Per-environment overrides, selected with --env <name>:
# environments:
#   staging:
#     remotes:
#       origin:
#         target:
#           environment: staging
`, strings.TrimSpace(string(q)), initRegistryDir), nil
}

// writeStarter writes dir/epack.yaml and creates the local registry folder.
// It returns the absolute path of the file written.
func writeStarter(dir, stream string, force bool) (string, error) {
	stream = strings.TrimSpace(stream)
	if stream == "" {
		stream = defaultStream(dir)
	}
	if strings.ContainsAny(stream, "\n\r\x00") {
		return "", errcode.New(errcode.InvalidInput, "--stream must be a single line")
	}
	body, err := starterConfig(stream)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "rendering epack.yaml")
	}
	path := filepath.Join(dir, config.ConfigFileName)
	st, err := os.Lstat(path)
	switch {
	case err == nil && st.Mode()&fs.ModeSymlink != 0:
		return "", errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to replace it", path).
			WithHint("remove the link first")
	case err == nil && !st.Mode().IsRegular():
		return "", errcode.New(errcode.OutputExists, "%s exists and is not a regular file", path)
	case err == nil && !force:
		return "", errcode.New(errcode.OutputExists, "%s already exists", path).
			WithHint("use --force to replace it")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", errcode.Wrap(errcode.IOError, err, "cannot inspect %s", path)
	}
	if err := mkdirNoSymlink(dir, initRegistryDir); err != nil {
		return "", err
	}
	if err := writeInitFile(path, []byte(body), force); err != nil {
		return "", err
	}
	return path, nil
}

// mkdirNoSymlink creates base/rel one component at a time, refusing any
// component that exists as a symlink or a non-directory.
func mkdirNoSymlink(base, rel string) error {
	cur := base
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		switch {
		case err == nil && st.Mode()&fs.ModeSymlink != 0:
			return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to follow it", cur)
		case err == nil && !st.IsDir():
			return errcode.New(errcode.OutputExists, "%s exists and is not a directory", cur)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return errcode.Wrap(errcode.IOError, err, "cannot create %s", cur)
			}
		default:
			return errcode.Wrap(errcode.IOError, err, "cannot inspect %s", cur)
		}
	}
	return nil
}

// writeInitFile creates path exclusively, or with replace writes a temp file
// beside it and renames it over the old one.
func writeInitFile(path string, data []byte, replace bool) error {
	if !replace {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return errcode.New(errcode.OutputExists, "%s already exists", path).WithHint("use --force to replace it")
		}
		if err != nil {
			return errcode.Wrap(errcode.IOError, err, "cannot create %s", path)
		}
		_, werr := f.Write(data)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(path)
			return errcode.Wrap(errcode.IOError, err, "writing %s", path)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".epack.yaml.tmp-*")
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot create a temporary file beside %s", path)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	merr := tmp.Chmod(0o644)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, merr, serr, cerr); err != nil {
		os.Remove(name)
		return errcode.Wrap(errcode.IOError, err, "writing %s", path)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return errcode.Wrap(errcode.IOError, err, "replacing %s", path)
	}
	return nil
}
