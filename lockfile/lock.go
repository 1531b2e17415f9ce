package lockfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// LockOptions select what Lock pins.
type LockOptions struct {
	// ProjectDir is a folder inside the project (the root is found upward
	// from it, as for every command). Required: the library never reads the
	// working directory.
	ProjectDir string
	// Remotes names the remotes to pin; empty means every remote in epack.yaml.
	Remotes []string
	// Source configures how source remotes are resolved (GitHub client,
	// Sigstore verifier). The zero value uses the GitHub API named by the
	// environment and the Sigstore public-good root.
	Source sourceinstall.Options
	// Stderr receives warnings; nil discards them.
	Stderr io.Writer
	// Now is the time recorded as locked_at (default time.Now).
	Now func() time.Time
}

// LockResult is what Lock wrote.
type LockResult struct {
	// LockfilePath is the absolute path of epack.lock.yaml.
	LockfilePath string `json:"lockfile"`
	// Platform is the lockfile platform key of this process ("linux/amd64").
	Platform string `json:"platform"`
	// Locked lists the pinned remotes in the order they were asked for.
	Locked []Pinned `json:"locked"`
}

// Pinned is one remote pinned by Lock.
type Pinned struct {
	Remote   string `json:"remote"`
	Adapter  string `json:"adapter"`
	Path     string `json:"path"`   // where the adapter is (or is installed) for this platform
	Origin   string `json:"origin"` // remote.OriginBinary, OriginInstalled, …
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	// Previous is the digest pinned before for this platform ("" when new,
	// or when the remote changed between source and binary).
	Previous string `json:"previous_digest,omitempty"`
	// Changed is true when a previous pin existed and differs.
	Changed bool `json:"changed"`
	// Kind is config.KindExternal for binary, bundled and PATH adapters, ""
	// for source remotes.
	Kind string `json:"kind,omitempty"`
}

// Lock pins the adapters of the selected remotes in epack.lock.yaml. It
// holds the lockfile update lock from load to save; the file is written only
// when every selected remote could be pinned, and otherwise the errors of
// every failed remote are returned together.
func Lock(ctx context.Context, o LockOptions) (*LockResult, error) {
	project, err := loadProject(o.ProjectDir)
	if err != nil {
		return nil, err
	}
	release, err := config.LockForUpdate(ctx, project.Root)
	if err != nil {
		return nil, err
	}
	defer release()
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return nil, err
	}
	names := dedupe(o.Remotes)
	if len(names) == 0 {
		names = sortedRemotes(project.Config, func(*config.Remote) bool { return true })
		if len(names) == 0 {
			return nil, errcode.New(errcode.ConfigInvalid, "no remotes configured in %s", project.ConfigPath).
				WithHint("add a remote under 'remotes:' in epack.yaml")
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	src := o.Source
	src.Component = "lock"
	src.Stderr = writerOrDiscard(o.Stderr)
	res := &LockResult{LockfilePath: filepath.Join(project.Root, config.LockFileName), Platform: config.PlatformKey()}
	var errs []error
	for _, name := range names {
		p, err := pinRemote(ctx, project, lock, name, now(), src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Locked = append(res.Locked, p)
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	if err := lock.Save(project.Root); err != nil {
		return nil, err
	}
	return res, nil
}

// pinRemote pins one remote into lock: source remotes through their
// releases, every other remote by hashing its adapter.
func pinRemote(ctx context.Context, project *config.Project, lock *config.LockFile, name string, now time.Time, src sourceinstall.Options) (Pinned, error) {
	if r := project.Config.Remotes[name]; r != nil && r.Source != "" {
		return pinSource(ctx, project, lock, name, src)
	}
	return pinBinary(project, lock, name, now)
}

// pinSource pins the source remote name with sourceinstall.LockSourceResult
// (platforms of epack.yaml).
func pinSource(ctx context.Context, project *config.Project, lock *config.LockFile, name string, src sourceinstall.Options) (Pinned, error) {
	prev := ""
	if e := lock.Entry(name); e != nil && e.Kind != config.KindExternal {
		prev = lock.PinnedDigest(name, "")
	}
	res, err := sourceinstall.LockSourceResult(ctx, project, lock, name, nil, src)
	if err != nil {
		return Pinned{}, err
	}
	digest := lock.PinnedDigest(name, "")
	return Pinned{
		Remote: name, Adapter: res.Adapter,
		Path:     filepath.Join(project.Root, sourceinstall.InstallDirRel(name, res.Version), protocol.BinaryPrefix+res.Adapter),
		Origin:   remote.OriginInstalled,
		Platform: config.PlatformKey(), Digest: digest, Previous: prev, Changed: prev != "" && prev != digest,
	}, nil
}

// pinBinary resolves and hashes the adapter of a remote without source:
// (binary:, bundled or PATH) and pins it as kind external for this platform,
// keeping the digests pinned for other platforms.
func pinBinary(project *config.Project, lock *config.LockFile, name string, now time.Time) (Pinned, error) {
	r, err := project.Config.ResolveRemote(name, "")
	if err != nil {
		return Pinned{}, err
	}
	res, err := remote.Resolve(project.Root, r, lock)
	if err != nil {
		return Pinned{}, err
	}
	switch res.Status {
	case remote.StatusNotFound:
		where := "next to epack or on PATH"
		if r.Binary != "" {
			where = "at " + res.Path
		}
		return Pinned{}, errcode.New(errcode.AdapterNotFound, "remote %q: adapter %s not found %s", name, res.BinaryName(), where).
			WithHint("install the adapter (or fix 'binary:' in epack.yaml) and run 'epack lock %s' again", name)
	case remote.StatusManaged:
		return Pinned{}, errcode.New(errcode.AdapterNotFound, "remote %q: adapter %s %s is pinned but not installed", name, res.Adapter, res.Version).
			WithHint("run 'epack sync' to install it")
	}
	digest, err := sealedexec.HashFile(res.Path)
	if err != nil {
		return Pinned{}, fmt.Errorf("remote %q: %w", name, err)
	}
	prev := remote.PinnedDigest(lock, name)
	if e := lock.Entry(name); e != nil && e.Kind != config.KindExternal {
		prev = "" // it pinned a source adapter: not a previous version of this one
	}
	lock.Pin(name, config.KindExternal, "", digest, now)
	return Pinned{
		Remote: name, Adapter: res.Adapter, Path: res.Path, Origin: res.Origin, Platform: config.PlatformKey(),
		Digest: digest, Previous: prev, Changed: prev != "" && prev != digest, Kind: config.KindExternal,
	}, nil
}

// loadProject loads the project around dir, refusing an empty dir.
func loadProject(dir string) (*config.Project, error) {
	if dir == "" {
		return nil, errcode.New(errcode.InvalidInput, "no project folder given").
			WithHint("set ProjectDir to a folder inside the project (the one holding epack.yaml or below it)")
	}
	return config.LoadProject(dir)
}

// dedupe keeps the first occurrence of each name, in order.
func dedupe(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// sortedRemotes returns the names of the remotes keep accepts (r may be
// nil for an empty entry), sorted.
func sortedRemotes(c *config.Config, keep func(*config.Remote) bool) []string {
	var names []string
	for n, r := range c.Remotes {
		if keep(r) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// joinErrors returns nil, the one error, or all of them joined.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
