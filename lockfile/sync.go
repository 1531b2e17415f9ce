package lockfile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sourceinstall"
)

// SyncOptions select what Sync installs and how.
type SyncOptions struct {
	// ProjectDir is a folder inside the project. Required.
	ProjectDir string
	// Remotes names the source remotes to install; empty means every remote
	// with source: in epack.yaml. Naming a remote without source: is an error.
	Remotes []string
	// Frozen never changes epack.lock.yaml: a missing file or a missing or
	// stale entry is an error instead of being locked first.
	Frozen bool
	// InsecureSkipVerify installs without Sigstore verification (the pinned
	// digest is still checked; the install is marked and audited). Refused
	// with Frozen.
	InsecureSkipVerify bool
	// StrictProduction refuses InsecureSkipVerify (PolicyViolation), as
	// does Source.StrictProduction. The epack CLI sets it from
	// EPACK_STRICT_PRODUCTION; this package reads no environment for it.
	StrictProduction bool
	// Source configures the GitHub client and the Sigstore verifier (zero
	// value: the environment's GitHub API and the public-good root).
	Source sourceinstall.Options
	// Stderr receives warnings (an insecure install); nil discards them.
	Stderr io.Writer

	// OnLocking, when set, is called before a missing or stale remote is
	// locked (with its source: text).
	OnLocking func(remote, source string)
	// OnInstalling, when set, is called before each remote is installed.
	OnInstalling func(remote string)
	// OnInstalled, when set, is called after each install attempt, so a
	// caller can report remotes as they finish.
	OnInstalled func(InstallReport)
}

// InstallReport is one finished install attempt of Sync.
type InstallReport struct {
	Remote string
	// Total is how many remotes this Sync installs.
	Total int
	// Synced is the installed remote, nil when Err is set.
	Synced *Synced
	Err    error
}

// SyncResult is what Sync did.
type SyncResult struct {
	// LockfilePath is the absolute path of epack.lock.yaml.
	LockfilePath string `json:"lockfile"`
	// Platform is this process's lockfile platform key.
	Platform string `json:"platform"`
	// ConfigPath is the epack.yaml of the project.
	ConfigPath string `json:"-"`
	// Synced lists the installed remotes in order; empty when the project
	// has no source remote.
	Synced []Synced `json:"synced"`
}

// Synced is one source remote installed (or found installed) by Sync.
type Synced struct {
	Remote   string `json:"remote"`
	Adapter  string `json:"adapter"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Path     string `json:"path"`
	Digest   string `json:"digest"`
	// Locked is true when Sync pinned the remote in epack.lock.yaml first
	// (its entry was missing or stale).
	Locked bool `json:"locked"`
	// Installed is false when the pinned binary was already in place.
	Installed bool `json:"installed"`
	// Verified is true when the Sigstore bundle was checked.
	Verified bool `json:"verified"`
	// Insecure is true for an install without verification.
	Insecure bool `json:"insecure,omitempty"`
	// Signer is "<repository URI>@<ref>" of the verified certificate.
	Signer string `json:"signer,omitempty"`
}

// Sync installs the selected source adapters for this platform as pinned
// in epack.lock.yaml, under .epack/remotes/<remote>/<version>/<os>-<arch>/.
// Remotes whose pin is missing or stale are locked first, all or nothing,
// under the lockfile update lock (never with Frozen). Every remote is
// attempted; the errors of those that failed are returned together with
// the result of those that succeeded.
func Sync(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	src := o.Source
	src.Frozen, src.InsecureSkipVerify = o.Frozen, o.InsecureSkipVerify
	src.StrictProduction = src.StrictProduction || o.StrictProduction
	src.Component = "sync"
	src.Stderr = writerOrDiscard(o.Stderr)
	if o.Frozen && o.InsecureSkipVerify {
		return nil, errcode.New(errcode.PolicyViolation, "--insecure-skip-verify cannot be used with --frozen").
			WithHint("frozen mode installs only adapters whose Sigstore signature verifies")
	}
	project, err := loadProject(o.ProjectDir)
	if err != nil {
		return nil, err
	}
	release, err := config.LockForUpdate(ctx, project.Root)
	if err != nil {
		return nil, err
	}
	defer release()
	res := &SyncResult{
		LockfilePath: filepath.Join(project.Root, config.LockFileName), Platform: config.PlatformKey(),
		ConfigPath: project.ConfigPath, Synced: []Synced{},
	}
	if o.Frozen {
		if _, err := os.Lstat(res.LockfilePath); errors.Is(err, fs.ErrNotExist) {
			return nil, errcode.New(errcode.LockfileInvalid, "%s not found (frozen)", res.LockfilePath).
				WithHint("run 'epack lock' and commit %s", config.LockFileName)
		}
	}
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return nil, err
	}
	remotes, err := sourceRemotes(project, o.Remotes)
	if err != nil || len(remotes) == 0 {
		return res, err
	}
	locked, err := lockStale(ctx, project, lock, remotes, o, src)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, r := range remotes {
		if o.OnInstalling != nil {
			o.OnInstalling(r.Name)
		}
		inst, err := sourceinstall.InstallResult(ctx, project.Root, r, lock, src)
		if err != nil {
			errs = append(errs, err)
			if o.OnInstalled != nil {
				o.OnInstalled(InstallReport{Remote: r.Name, Total: len(remotes), Err: err})
			}
			continue
		}
		s := Synced{
			Remote: inst.Remote, Adapter: inst.Adapter, Version: inst.Version, Platform: inst.Platform,
			Path: inst.Path, Digest: inst.Digest, Locked: locked[r.Name], Installed: inst.Changed,
			Verified: inst.Verified, Insecure: !inst.Verified,
		}
		if inst.Signer != nil {
			s.Signer = inst.Signer.SourceRepositoryURI + "@" + inst.Signer.SourceRepositoryRef
		}
		res.Synced = append(res.Synced, s)
		if o.OnInstalled != nil {
			o.OnInstalled(InstallReport{Remote: r.Name, Total: len(remotes), Synced: &s})
		}
	}
	return res, joinErrors(errs)
}

// sourceRemotes resolves the named remotes (all source remotes when none
// is named), refusing a named remote that has no source:.
func sourceRemotes(project *config.Project, names []string) ([]*config.Remote, error) {
	names = dedupe(names)
	if len(names) == 0 {
		names = sortedRemotes(project.Config, func(r *config.Remote) bool { return r != nil && r.Source != "" })
	}
	var remotes []*config.Remote
	for _, n := range names {
		r, err := project.Config.ResolveRemote(n, "")
		if err != nil {
			return nil, err
		}
		if r.Source == "" {
			return nil, errcode.New(errcode.ConfigInvalid, "remote %q has no source: in epack.yaml; only source remotes are installed by 'epack sync'", n).
				WithHint("pin a binary: remote with 'epack lock %s'", n)
		}
		remotes = append(remotes, r)
	}
	return remotes, nil
}

// lockStale locks every remote whose pin is missing or stale (for the
// platforms of epack.yaml and always this one, which Sync installs) and
// saves the lockfile once when any was locked. Frozen turns a missing or
// stale pin into its error. It returns the names it locked.
func lockStale(ctx context.Context, project *config.Project, lock *config.LockFile, remotes []*config.Remote, o SyncOptions, src sourceinstall.Options) (map[string]bool, error) {
	locked := map[string]bool{}
	for _, r := range remotes {
		_, err := sourceinstall.CheckLocked(r, lock)
		if err == nil {
			continue
		}
		if o.Frozen || !errcode.Has(err, errcode.LockfileInvalid) {
			return nil, err
		}
		if o.OnLocking != nil {
			o.OnLocking(r.Name, r.Source)
		}
		platforms := append(sourceinstall.Platforms(project.Config), config.PlatformKey())
		if err := sourceinstall.LockSource(ctx, project, lock, r.Name, platforms, src); err != nil {
			return nil, err
		}
		locked[r.Name] = true
		if _, err := sourceinstall.CheckLocked(r, lock); err != nil {
			return nil, err
		}
	}
	if len(locked) > 0 {
		if err := lock.Save(project.Root); err != nil {
			return nil, err
		}
	}
	return locked, nil
}
