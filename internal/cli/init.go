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

// runInit writes the starter epack.yaml in the current directory.
func runInit(_ context.Context, o *initOptions) error {
	g := o.g
	wd, err := os.Getwd()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	path, err := writeStarter(wd, o.Stream, o.Force)
	if err != nil {
		return err
	}
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"created": path})
		return nil
	}
	g.out("%s Created %s\n", g.okMark(), path)
	g.out("  local registry: %s\n", filepath.Join(wd, filepath.FromSlash(initRegistryDir)))
	g.out("Next: build a pack, then run 'epack push local <pack>'.\n")
	return nil
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
  # A registry in a local folder, handy to try epack out:
  #   epack push local evidence.epack
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
