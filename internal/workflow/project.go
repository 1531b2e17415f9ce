package workflow

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/transfer"
)

// Op names the operation the shared steps serve.
type Op struct {
	// Name is "push" or "pull": it appears in messages, in the execution
	// policy's audit lines and in the installer's.
	Name string
	// ReceiptDir is the operation's receipts folder, relative to the project root.
	ReceiptDir string
}

// Dir resolves the folder an operation runs in. The caller passes it (push
// and pull Options.ProjectDir); empty means the process's working directory,
// the one place a workflow falls back on it, resolved here by filepath.Abs.
func Dir(dir string) (string, error) {
	if strings.TrimSpace(dir) == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "finding the project folder %q", dir)
	}
	return abs, nil
}

// Abs returns path resolved against dir; an absolute path is kept as it is.
func Abs(dir, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(dir, path)
}

// Env is a loaded project and the remote an operation uses.
type Env struct {
	Op Op
	// Dir is the absolute folder the operation runs in.
	Dir string
	// Root is the project root (the folder with epack.yaml).
	Root string
	// RemoteName is the remote as the caller named it.
	RemoteName string
	// Remote is the remote with environment overrides applied.
	Remote *config.Remote
	// Policy is the URL policy for this remote's transfers.
	Policy transfer.Policy
	// Location is the registry location the caller named instead of a
	// remote (file://…, s3://…, a folder); Root is then empty and only the
	// bundled adapter runs.
	Location string
}

// ReceiptsDir is where this operation's receipts go: below the project
// root, or, for a registry named by location, below StateDir.
func (e *Env) ReceiptsDir() (string, error) {
	if e.Root != "" {
		return filepath.Join(e.Root, e.Op.ReceiptDir), nil
	}
	state, err := StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(state, strings.TrimPrefix(e.Op.ReceiptDir, ".epack"+string(filepath.Separator))), nil
}

// Load finds the project from dir and resolves the remote with the
// environment's overrides. Names and folders are checked before anything
// runs or is sent: a workspace or environment the registries refuse, or a
// symbolic link on a folder between the project root and the registry
// (file_root inside the project) or the receipts folder, stops here.
func Load(op Op, dir, remoteName, environment string) (*Env, error) {
	if IsLocation(remoteName) {
		if environment != "" {
			return nil, errcode.New(errcode.InvalidInput, "environment overrides need a remote from epack.yaml, not a registry location").
				WithHint("put ?workspace=…&environment=… in the location instead")
		}
		return loadLocation(op, dir, remoteName)
	}
	project, err := config.LoadProject(dir)
	if err != nil {
		return nil, err
	}
	rcfg, err := project.Config.ResolveRemote(remoteName, environment)
	if err != nil {
		return nil, err
	}
	if err := names.CheckOptional(names.Workspace, rcfg.Target.Workspace); err != nil {
		return nil, fmt.Errorf("remote %q target.workspace: %w", remoteName, err)
	}
	if err := names.CheckOptional(names.Environment, rcfg.Target.Environment); err != nil {
		return nil, fmt.Errorf("remote %q target.environment: %w", remoteName, err)
	}
	receipts := filepath.Join(project.Root, op.ReceiptDir, remoteName)
	if err := safefile.CheckBelow(project.Root, rcfg.Transport.FileRoot, receipts); err != nil {
		return nil, fmt.Errorf("refusing to %s through a linked folder in the project: %w", op.Name, err)
	}
	return &Env{
		Op: op, Dir: dir, Root: project.Root, RemoteName: remoteName, Remote: rcfg,
		Policy: transfer.Policy{FileRoot: rcfg.Transport.FileRoot, ProjectRoot: project.Root, AllowLoopbackHTTP: rcfg.Transport.AllowLoopbackHTTP},
	}, nil
}

// CheckNames refuses an explicitly given workspace or environment that is
// not a real name: a blank one used to fall back to the configured one
// without a word.
func CheckNames(workspace, environment string) error {
	if err := names.CheckOptional(names.Workspace, workspace); err != nil {
		return fmt.Errorf("workspace option: %w", err)
	}
	if err := names.CheckOptional(names.Environment, environment); err != nil {
		return fmt.Errorf("environment option: %w", err)
	}
	return nil
}

// FirstNonEmpty returns the first value that is not blank.
func FirstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
