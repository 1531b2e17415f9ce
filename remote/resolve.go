package remote

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// Status is the verification status of a resolved adapter.
type Status string

// Adapter statuses.
const (
	// StatusVerified: a digest is pinned for this platform; Open checks the
	// bytes against it and refuses a mismatch.
	StatusVerified Status = "verified"
	// StatusUnverified: found, but no digest is pinned.
	StatusUnverified Status = "unverified"
	// StatusManaged: a source remote is pinned but its adapter is not installed.
	StatusManaged Status = "managed"
	// StatusNotFound: no adapter binary was found.
	StatusNotFound Status = "not_found"
)

// Origins of a resolved adapter.
const (
	OriginBinary    = "binary"    // remotes.<r>.binary
	OriginInstalled = "installed" // .epack/remotes/<r>/<version>/<os>-<arch>/
	OriginBundled   = "bundled"   // next to the running epack executable
	OriginPath      = "path"      // found on PATH
)

// envAdapterDir overrides the "bundled" directory (default: the directory of
// the running executable).
const envAdapterDir = "EPACK_ADAPTER_DIR"

// InsecureInstallMarker in an install folder means the adapter was installed
// without signature checks; such adapters are refused.
const InsecureInstallMarker = ".insecure-install"

// Resolved is where an adapter was found and how it will be verified.
type Resolved struct {
	Remote       string // remote name
	Adapter      string // adapter name (epack-remote-<Adapter>)
	Path         string // absolute path of the binary ("" when not found)
	Origin       string // OriginBinary, OriginInstalled, OriginBundled, OriginPath or ""
	Status       Status
	PinnedDigest string // "sha256:<hex>" from epack.lock.yaml for this platform, or ""
	// InstallDir is the install folder of a source remote (found or expected).
	InstallDir string
	// Version is the locked version of a source remote.
	Version string
}

// BinaryName returns "epack-remote-<adapter>".
func (r *Resolved) BinaryName() string { return protocol.BinaryPrefix + r.Adapter }

// PinnedDigest returns the lockfile digest pinned for remoteName on this platform.
func PinnedDigest(lock *config.LockFile, remoteName string) string {
	if lock == nil || lock.Remotes == nil {
		return ""
	}
	e := lock.Remotes[remoteName]
	if e == nil || e.Platforms == nil {
		return ""
	}
	return strings.TrimSpace(e.Platforms[config.PlatformKey()].Digest)
}

// adapterName is the adapter r runs: the name config infers, else the
// remote's own name.
func adapterName(r *config.Remote) string {
	if a := r.AdapterName(); a != "" {
		return a
	}
	return r.Name
}

// Resolve finds the adapter binary of r, in order: binary:, installed from
// source under projectRoot, bundled next to the running executable (or in
// $EPACK_ADAPTER_DIR), then PATH. It does not hash anything: a verified status
// means a digest is pinned and will be checked when the adapter is sealed.
// A nil error with Status not_found or managed means nothing runnable was found.
func Resolve(projectRoot string, r *config.Remote, lock *config.LockFile) (*Resolved, error) {
	if r == nil {
		return nil, errcode.New(errcode.InvalidInput, "no remote given")
	}
	res := &Resolved{Remote: r.Name, Adapter: adapterName(r), PinnedDigest: PinnedDigest(lock, r.Name)}
	if res.Adapter == "" || strings.ContainsAny(res.Adapter, "/\\\x00") || res.Adapter == "." || res.Adapter == ".." {
		return nil, errcode.New(errcode.ConfigInvalid, "remote %q: invalid adapter name %q", r.Name, res.Adapter)
	}
	setStatus := func(path, origin string) *Resolved {
		res.Path, res.Origin = path, origin
		if res.PinnedDigest != "" {
			res.Status = StatusVerified
		} else {
			res.Status = StatusUnverified
		}
		return res
	}

	// 1. binary:
	if r.Binary != "" {
		if !filepath.IsAbs(r.Binary) {
			return nil, errcode.New(errcode.ConfigInvalid, "remote %q: binary %q must be an absolute path", r.Name, r.Binary)
		}
		p := filepath.Clean(r.Binary)
		if _, err := os.Lstat(p); err != nil {
			res.Path, res.Origin, res.Status = p, OriginBinary, StatusNotFound
			return res, nil
		}
		return setStatus(p, OriginBinary), nil
	}

	// 2. installed from source.
	if r.Source != "" && lock != nil && lock.Remotes != nil && projectRoot != "" {
		if e := lock.Remotes[r.Name]; e != nil && e.Version != "" && e.Kind != config.KindExternal {
			if e.Source != "" && normSource(e.Source) != normSource(r.Source) {
				return nil, errcode.New(errcode.LockfileInvalid, "epack.lock.yaml pins remote %q to source %q but epack.yaml names %q", r.Name, e.Source, r.Source).
					WithHint("run 'epack sync' (or 'epack lock %s') to re-pin the remote", r.Name)
			}
			if !safeComponent(e.Version) {
				return nil, errcode.New(errcode.LockfileInvalid, "epack.lock.yaml: remote %q has an invalid version %q", r.Name, e.Version)
			}
			dir := filepath.Join(projectRoot, ".epack", "remotes", r.Name, e.Version, runtime.GOOS+"-"+runtime.GOARCH)
			res.InstallDir, res.Version = dir, e.Version
			// Our installer names the file after the adapter; upstream's after
			// the remote (COMPAT W14): accept both.
			for _, name := range uniq(protocol.BinaryPrefix+res.Adapter, protocol.BinaryPrefix+r.Name) {
				p := filepath.Join(dir, name)
				if st, err := os.Lstat(p); err == nil && !st.IsDir() {
					return setStatus(p, OriginInstalled), nil
				}
			}
			if res.PinnedDigest != "" {
				res.Path = filepath.Join(dir, res.BinaryName())
				res.Origin, res.Status = OriginInstalled, StatusManaged
				return res, nil
			}
		}
	}

	// 3. bundled next to the running executable.
	if dir := bundledDir(); dir != "" {
		if p, ok := regularExecutable(filepath.Join(dir, res.BinaryName())); ok {
			return setStatus(p, OriginBundled), nil
		}
	}

	// 4. PATH.
	if p, ok := lookPath(res.BinaryName()); ok {
		return setStatus(p, OriginPath), nil
	}
	res.Status = StatusNotFound
	return res, nil
}

// normSource reduces a source reference to "owner/repo" for comparison:
// "owner/repo@^1.2", "github.com/owner/repo" and "https://github.com/owner/repo"
// are the same source.
func normSource(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.TrimPrefix(s, "github.com/")
	return strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func safeComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00") && len(s) <= 128
}

// bundledDir is $EPACK_ADAPTER_DIR or the directory of the running executable.
func bundledDir() string {
	if d := os.Getenv(envAdapterDir); d != "" {
		if filepath.IsAbs(d) {
			return filepath.Clean(d)
		}
		return ""
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(exe)
}

// regularExecutable resolves symlinks of p and reports the real path when it
// is a regular file with an execute bit.
func regularExecutable(p string) (string, bool) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	if !filepath.IsAbs(real) {
		if real, err = filepath.Abs(real); err != nil {
			return "", false
		}
	}
	st, err := os.Lstat(real)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", false
	}
	return real, true
}

// lookPath searches PATH like exec.LookPath, skipping relative entries and
// anything that is not a regular executable file; symlinks are resolved so
// the returned path names the real file.
func lookPath(name string) (string, bool) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never the current directory
		}
		if p, ok := regularExecutable(filepath.Join(dir, name)); ok {
			return p, true
		}
	}
	return "", false
}

// insecureMarker reports whether the install folder of res holds the
// .insecure-install marker.
func insecureMarker(res *Resolved) bool {
	if res.Origin != OriginInstalled || res.Path == "" {
		return false
	}
	_, err := os.Lstat(filepath.Join(filepath.Dir(res.Path), InsecureInstallMarker))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
