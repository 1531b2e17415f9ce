package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/remote"
	"github.com/spf13/cobra"
)

func init() { register(30, newLockCmd) }

// lockedEntry is one pinned remote in `epack lock --json`.
type lockedEntry struct {
	Remote   string `json:"remote"`
	Adapter  string `json:"adapter"`
	Path     string `json:"path"`
	Origin   string `json:"origin"`
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Previous string `json:"previous_digest,omitempty"`
	Changed  bool   `json:"changed"`
	Kind     string `json:"kind,omitempty"`
}

func newLockCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock [remote...]",
		Short: "Pin the adapter binaries of remotes in epack.lock.yaml",
		Long: `Pin the adapter binary of each remote (all remotes when none is named) by its
SHA-256 digest for the current platform in epack.lock.yaml.

A source: remote is resolved from its GitHub releases (version, commit,
Sigstore signer and a digest per platform of epack.yaml's platforms:). Any
other remote is pinned by hashing the adapter found the way push and pull
find it: binary: from epack.yaml, bundled next to epack, or on PATH; digests
pinned for other platforms are kept. Once pinned, an adapter runs only from a
verified sealed copy, and a changed binary is refused.`,
		Example: `  epack lock
  epack lock origin
  epack lock --json`,
		RunE: func(cmd *cobra.Command, args []string) error { return runLock(cmd, g, args) },
	}
	return cmd
}

func runLock(cmd *cobra.Command, g *Globals, names []string) error {
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
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		for n := range project.Config.Remotes {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return errcode.New(errcode.ConfigInvalid, "no remotes configured in %s", project.ConfigPath).
				WithHint("add a remote under 'remotes:' in epack.yaml")
		}
	}
	seen := map[string]bool{}
	var entries []lockedEntry
	var errs []error
	now := time.Now()
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		// Source remotes are resolved from their releases (sync.go:
		// lockAny); every other remote by hashing its adapter (lockOne).
		e, err := lockAny(cmd.Context(), g, project, lock, name, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, e)
	}
	if len(errs) > 0 {
		// Nothing is written unless every selected remote could be pinned.
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(errs...)
	}
	if err := lock.Save(project.Root); err != nil {
		return err
	}
	lockPath := filepath.Join(project.Root, "epack.lock.yaml")
	if g.JSON {
		writeJSON(g.Stdout, map[string]any{"lockfile": lockPath, "platform": config.PlatformKey(), "locked": entries})
		return nil
	}
	for _, e := range entries {
		state := "pinned"
		switch {
		case e.Previous == "":
		case e.Changed:
			state = "updated"
		default:
			state = "unchanged"
		}
		g.out("%s %s: %s %s (%s, %s)\n", g.okMark(), e.Remote, state, e.Digest, e.Origin, e.Path)
	}
	g.out("Wrote %s for %s\n", lockPath, config.PlatformKey())
	return nil
}

// lockOne resolves and hashes the adapter of one non-source remote (binary:,
// bundled or PATH) and pins it in lock as kind external.
func lockOne(project *config.Project, lock *config.LockFile, name string, now time.Time) (lockedEntry, error) {
	r, err := project.Config.ResolveRemote(name, "")
	if err != nil {
		return lockedEntry{}, err
	}
	res, err := remote.Resolve(project.Root, r, lock)
	if err != nil {
		return lockedEntry{}, err
	}
	switch res.Status {
	case remote.StatusNotFound:
		where := "next to epack or on PATH"
		if r.Binary != "" {
			where = "at " + res.Path
		}
		return lockedEntry{}, errcode.New(errcode.AdapterNotFound, "remote %q: adapter %s not found %s", name, res.BinaryName(), where).
			WithHint("install the adapter (or fix 'binary:' in epack.yaml) and run 'epack lock %s' again", name)
	case remote.StatusManaged:
		return lockedEntry{}, errcode.New(errcode.AdapterNotFound, "remote %q: adapter %s %s is pinned but not installed", name, res.Adapter, res.Version).
			WithHint("run 'epack sync' to install it")
	}
	digest, err := sealedexec.HashFile(res.Path)
	if err != nil {
		return lockedEntry{}, fmt.Errorf("remote %q: %w", name, err)
	}
	kind := config.KindExternal // source remotes go through lockSourceEntry
	prev := remote.PinnedDigest(lock, name)
	if e := lock.Entry(name); e != nil && e.Kind != kind {
		prev = ""
	}
	lock.Pin(name, kind, "", digest, now)
	return lockedEntry{
		Remote: name, Adapter: res.Adapter, Path: res.Path, Origin: res.Origin, Platform: config.PlatformKey(),
		Digest: digest, Previous: prev, Changed: prev != "" && prev != digest, Kind: kind,
	}, nil
}
