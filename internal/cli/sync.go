package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/remote"
	"github.com/spf13/cobra"
)

func init() { register(40, newSyncCmd) }

// syncInstallOptions builds the sourceinstall options of `epack sync`. Tests
// replace it to point at a local GitHub API and a virtual Sigstore.
var syncInstallOptions = func(g *Globals) sourceinstall.Options {
	return sourceinstall.Options{Stderr: g.Stderr}
}

// syncEntry is one remote in `epack sync --json`.
type syncEntry struct {
	Remote   string `json:"remote"`
	Adapter  string `json:"adapter"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Path     string `json:"path"`
	Digest   string `json:"digest"`
	// Locked is true when sync pinned the remote in epack.lock.yaml first
	// (its entry was missing or stale).
	Locked    bool   `json:"locked"`
	Installed bool   `json:"installed"` // false: already installed
	Verified  bool   `json:"verified"`
	Insecure  bool   `json:"insecure,omitempty"`
	Signer    string `json:"signer,omitempty"`
}

type syncFlags struct {
	frozen, insecureSkipVerify bool
}

func newSyncCmd(g *Globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync [remote...]",
		Short: "Install the source adapters pinned in epack.lock.yaml",
		Long: `Install the adapter of each source remote (all remotes with 'source:' when
none is named) as pinned in epack.lock.yaml, for the current platform, into
.epack/remotes/<remote>/<version>/<os>-<arch>/epack-remote-<adapter>.

The release asset is downloaded from GitHub ($GITHUB_API_URL, default
https://api.github.com; $GITHUB_TOKEN is used when set), its SHA-256 must
equal the pinned digest, and its Sigstore bundle must verify against the
Sigstore public-good root for the source repository and release tag
(issuer https://token.actions.githubusercontent.com). Only then does the
file become executable.

A remote missing from epack.lock.yaml, or whose lock entry no longer
matches epack.yaml (another repository, or a version outside the
constraint), is locked first, like 'epack lock'. With --frozen the lockfile
is never changed: a missing or stale lockfile is an error.`,
		Example: `  epack sync
  epack sync origin
  epack sync --frozen --json`,
		RunE: func(cmd *cobra.Command, args []string) error { return runSync(cmd, g, f, args) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.frozen, "frozen", false, "fail when epack.lock.yaml is missing or stale instead of updating it")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "install without Sigstore verification (digest still checked; leaves an .insecure-install marker that push and pull refuse)")
	return cmd
}

func runSync(cmd *cobra.Command, g *Globals, f syncFlags, names []string) error {
	opts := syncInstallOptions(g)
	opts.Frozen, opts.InsecureSkipVerify = f.frozen, f.insecureSkipVerify
	opts.Component = "sync"
	if f.frozen && f.insecureSkipVerify {
		return errcode.New(errcode.PolicyViolation, "--insecure-skip-verify cannot be used with --frozen").
			WithHint("frozen mode installs only adapters whose Sigstore signature verifies")
	}
	cwd, err := os.Getwd()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot determine the current directory")
	}
	project, err := config.LoadProject(cwd)
	if err != nil {
		return err
	}
	unlock, err := lockProjectLockfile(cmd.Context(), project.Root)
	if err != nil {
		return err
	}
	defer unlock()
	lockPath := filepath.Join(project.Root, config.LockFileName)
	if f.frozen {
		if _, err := os.Lstat(lockPath); errors.Is(err, fs.ErrNotExist) {
			return errcode.New(errcode.LockfileInvalid, "%s not found (frozen)", lockPath).
				WithHint("run 'epack lock' and commit %s", config.LockFileName)
		}
	}
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return err
	}

	explicit := len(names) > 0
	if !explicit {
		for n, r := range project.Config.Remotes {
			if r != nil && r.Source != "" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
	}
	var remotes []*config.Remote
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		r, err := project.Config.ResolveRemote(n, "")
		if err != nil {
			return err
		}
		if r.Source == "" {
			return errcode.New(errcode.ConfigInvalid, "remote %q has no source: in epack.yaml; only source remotes are installed by 'epack sync'", n).
				WithHint("pin a binary: remote with 'epack lock %s'", n)
		}
		remotes = append(remotes, r)
	}
	if len(remotes) == 0 {
		if g.JSON {
			writeJSON(g.Stdout, map[string]any{"lockfile": lockPath, "platform": config.PlatformKey(), "synced": []syncEntry{}})
			return nil
		}
		g.out("No source remotes in %s; nothing to sync.\n", project.ConfigPath)
		return nil
	}

	// Lock what is missing or stale (never in frozen mode), all or nothing.
	locked := map[string]bool{}
	for _, r := range remotes {
		if _, err := sourceinstall.CheckLocked(r, lock); err == nil {
			continue
		} else if f.frozen || !errcode.Has(err, errcode.LockfileInvalid) {
			return err
		}
		g.info("Locking %s (%s)…\n", r.Name, r.Source)
		// The platforms of epack.yaml, and always this one: sync installs it.
		platforms := append(sourceinstall.Platforms(project.Config), config.PlatformKey())
		if err := sourceinstall.LockSource(cmd.Context(), project, lock, r.Name, platforms, opts); err != nil {
			return err
		}
		locked[r.Name] = true
		if _, err := sourceinstall.CheckLocked(r, lock); err != nil {
			return err
		}
	}
	if len(locked) > 0 {
		if err := lock.Save(project.Root); err != nil {
			return err
		}
	}

	var entries []syncEntry
	var errs []error
	for _, r := range remotes {
		g.verbose("Installing %s…\n", r.Name)
		inst, err := sourceinstall.InstallResult(cmd.Context(), project.Root, r, lock, opts)
		if err != nil {
			errs = append(errs, err)
			if !g.JSON && !g.Quiet && len(remotes) > 1 {
				fmt.Fprintf(g.Stderr, "%s %s: %v\n", g.failMark(), r.Name, err)
			}
			continue
		}
		e := syncEntry{
			Remote: inst.Remote, Adapter: inst.Adapter, Version: inst.Version, Platform: inst.Platform,
			Path: inst.Path, Digest: inst.Digest, Locked: locked[r.Name], Installed: inst.Changed,
			Verified: inst.Verified, Insecure: !inst.Verified,
		}
		if inst.Signer != nil {
			e.Signer = inst.Signer.SourceRepositoryURI + "@" + inst.Signer.SourceRepositoryRef
		}
		entries = append(entries, e)
		state := "installed"
		if !inst.Changed {
			state = "already installed"
		}
		how := "verified"
		if !inst.Verified {
			how = "NOT VERIFIED"
		}
		g.out("%s %s: %s %s %s (%s, %s) %s\n", g.okMark(), e.Remote, state, e.Adapter, e.Version, e.Platform, how, e.Path)
	}
	if len(errs) > 0 {
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(errs...)
	}
	if g.JSON {
		writeJSON(g.Stdout, map[string]any{"lockfile": lockPath, "platform": config.PlatformKey(), "synced": entries})
	}
	return nil
}

// lockAny pins one remote for `epack lock`: a source remote is resolved
// through GitHub releases and Sigstore (version, commit, signer and a
// digest for every platform of epack.yaml's platforms:), any other remote
// by hashing its adapter binary (lockOne). It is what runLock calls for
// each named remote.
func lockAny(ctx context.Context, g *Globals, project *config.Project, lock *config.LockFile, name string, now time.Time) (lockedEntry, error) {
	if r := project.Config.Remotes[name]; r != nil && r.Source != "" {
		return lockSourceEntry(ctx, g, project, lock, name)
	}
	return lockOne(project, lock, name, now)
}

// lockSourceEntry pins the source remote name with sourceinstall.LockSource.
func lockSourceEntry(ctx context.Context, g *Globals, project *config.Project, lock *config.LockFile, name string) (lockedEntry, error) {
	prev := ""
	if e := lock.Entry(name); e != nil && e.Kind != config.KindExternal {
		prev = lock.PinnedDigest(name, "")
	}
	opts := syncInstallOptions(g)
	opts.Component = "lock"
	res, err := sourceinstall.LockSourceResult(ctx, project, lock, name, nil, opts)
	if err != nil {
		return lockedEntry{}, err
	}
	digest := lock.PinnedDigest(name, "")
	return lockedEntry{
		Remote: name, Adapter: res.Adapter,
		Path:     filepath.Join(project.Root, sourceinstall.InstallDirRel(name, res.Version), remote.BinaryPrefix+res.Adapter),
		Origin:   remote.OriginInstalled,
		Platform: config.PlatformKey(), Digest: digest, Previous: prev, Changed: prev != "" && prev != digest,
	}, nil
}
