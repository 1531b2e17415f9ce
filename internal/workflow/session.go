package workflow

import (
	"context"
	"io"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/remote"
)

// Installer installs an adapter that epack.lock.yaml pins but that is not
// installed yet (remote.SessionOptions.Install).
type Installer = func(ctx context.Context, adapter *remote.Resolved) error

// SessionSpec is what opening the adapter session needs besides the project.
type SessionSpec struct {
	Policy   remote.Policy
	Stderr   io.Writer
	NoRedact bool
	// Prompt asks whether to install a pinned adapter that is missing; nil
	// never installs.
	Prompt func(remoteName, adapterName string) bool
	// Installer installs it; nil means the source installer `epack sync`
	// uses (GitHub releases, Sigstore-verified).
	Installer Installer
	// Steps reports the install as StepInstall.
	Steps Steps
}

// OpenSession loads the lockfile and opens the remote's adapter session:
// resolved, checked against the policy, sealed and probed.
func (e *Env) OpenSession(ctx context.Context, spec SessionSpec) (*remote.Session, error) {
	if e.Location != "" {
		policy := spec.Policy
		policy.BundledOnly = true
		return remote.Open(ctx, remote.SessionOptions{
			Remote: e.Remote, Lock: &config.LockFile{}, Policy: policy, Stderr: spec.Stderr, NoRedact: spec.NoRedact,
		})
	}
	lock, err := config.LoadLock(e.Root)
	if err != nil {
		return nil, err
	}
	install := spec.Installer
	if install == nil {
		install = sourceinstall.Installer(e.Root, lock, sourceinstall.Options{
			Stderr: spec.Stderr, Frozen: spec.Policy.Frozen, Component: e.Op.Name})
	}
	return remote.Open(ctx, remote.SessionOptions{
		ProjectRoot: e.Root,
		Remote:      e.Remote,
		Lock:        lock,
		Policy:      spec.Policy,
		Stderr:      spec.Stderr,
		NoRedact:    spec.NoRedact,
		Prompt:      spec.Prompt,
		Install:     spec.Steps.Install(install),
		// A verified adapter's capabilities are probed once a day, not
		// once a command.
		CapabilitiesCache: remote.CapabilitiesCacheDir,
	})
}
