package sourceinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/evidencerelay/epack/internal/audit"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/sealedexec"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// InstallDirRel returns the install folder of a remote's version for the
// current platform, relative to the project root:
// .epack/remotes/<remote>/<version>/<goos>-<goarch>.
func InstallDirRel(remoteName, version string) string {
	return filepath.Join(".epack", "remotes", remoteName, version, runtime.GOOS+"-"+runtime.GOARCH)
}

// Installed describes the result of an install.
type Installed struct {
	Remote   string `json:"remote"`
	Adapter  string `json:"adapter"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Path     string `json:"path"`
	Digest   string `json:"digest"`
	// Changed is false when the pinned binary was already installed.
	Changed bool `json:"changed"`
	// Verified is true when the Sigstore bundle was checked (now, or at an
	// earlier install that left no insecure marker).
	Verified bool    `json:"verified"`
	Signer   *Signer `json:"signer,omitempty"`
}

// CheckLocked reports whether lock has a usable, current entry for the source
// remote r: an entry that is not external, with a version, the same
// repository as epack.yaml's source, a version that still satisfies the
// constraint, and a digest for the current platform. Errors are
// LockfileInvalid with a hint naming `epack lock`.
func CheckLocked(r *config.Remote, lock *config.LockFile) (*config.LockedRemote, error) {
	src, _, err := remoteSource(r)
	if err != nil {
		return nil, err
	}
	return checkLocked(r, src, lock)
}

func checkLocked(r *config.Remote, src Source, lock *config.LockFile) (*config.LockedRemote, error) {
	stale := func(format string, args ...any) *errcode.Error {
		return errcode.New(errcode.LockfileInvalid, "remote %q: %s", r.Name, fmt.Sprintf(format, args...)).
			WithHint("run 'epack lock %s' and commit epack.lock.yaml", r.Name)
	}
	e := lock.Entry(r.Name)
	switch {
	case e == nil:
		return nil, stale("not pinned in epack.lock.yaml")
	case e.Kind == config.KindExternal:
		return nil, stale("epack.lock.yaml pins an external binary, but epack.yaml configures source %s", r.Source)
	case e.Version == "":
		return nil, stale("epack.lock.yaml has no version")
	case !safeComponent(e.Version):
		return nil, errcode.New(errcode.LockfileInvalid, "remote %q: invalid version %q in epack.lock.yaml", r.Name, e.Version)
	case e.Source != "" && !strings.EqualFold(e.Source, src.LockSource()):
		return nil, stale("epack.lock.yaml is stale: it pins %s, but epack.yaml says %s", e.Source, src.LockSource())
	}
	v, err := ParseVersion(e.Version)
	if err != nil {
		return nil, stale("locked version %q is not a semantic version", e.Version)
	}
	if !src.Constraint.Allows(v) {
		return nil, stale("epack.lock.yaml is stale: locked version %s does not satisfy %q from epack.yaml", e.Version, src.Constraint.String())
	}
	if d := e.Platforms[config.PlatformKey()].Digest; d == "" {
		return nil, stale("epack.lock.yaml has no digest for this platform (%s)", config.PlatformKey()).
			WithHint("add %s under platforms: in epack.yaml and run 'epack lock %s'", config.PlatformKey(), r.Name)
	}
	return e, nil
}

func safeComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00") && len(s) <= config.MaxVersionLength
}

// Install installs the adapter lock pins for the source remote r on the
// current platform and returns its path:
// <projectRoot>/.epack/remotes/<remote>/<version>/<goos>-<goarch>/epack-remote-<adapter>.
// See InstallResult.
func Install(ctx context.Context, projectRoot string, r *config.Remote, lock *config.LockFile, opts Options) (string, error) {
	res, err := InstallResult(ctx, projectRoot, r, lock, opts)
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// InstallResult installs the pinned adapter of r. The release asset is
// downloaded into a temp file (mode 0600) in the install folder, which is
// created and opened without following symbolic links; its SHA-256 must
// equal the lockfile pin and its Sigstore bundle must verify for that digest
// with the identity of the source repository and the locked tag (and match
// the signer in the lockfile). The file is hashed once more from disk, and
// only then made executable (0755) and renamed into place. When the pinned
// binary is already installed and verified, nothing is downloaded.
func InstallResult(ctx context.Context, projectRoot string, r *config.Remote, lock *config.LockFile, opts Options) (*Installed, error) {
	if err := opts.checkInsecure(); err != nil {
		return nil, err
	}
	src, adapter, err := remoteSource(r)
	if err != nil {
		return nil, err
	}
	if err := config.CheckName(r.Name); err != nil {
		return nil, errcode.New(errcode.ConfigInvalid, "invalid remote name %q: %v", r.Name, err)
	}
	e, err := checkLocked(r, src, lock)
	if err != nil {
		return nil, err
	}
	platform := config.PlatformKey()
	pin := e.Platforms[platform]
	pinned := strings.TrimSpace(pin.Digest)
	assetName := AssetName(adapter, platform)
	if pin.Asset != "" && pin.Asset != assetName {
		return nil, errcode.New(errcode.LockfileInvalid, "remote %q: epack.lock.yaml pins asset %s, but adapter %q needs %s", r.Name, pin.Asset, adapter, assetName).
			WithHint("run 'epack lock %s' and commit epack.lock.yaml", r.Name)
	}
	out := &Installed{Remote: r.Name, Adapter: adapter, Version: e.Version, Platform: platform, Digest: pinned}

	root, err := filepath.Abs(projectRoot)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "invalid project root %q", projectRoot)
	}
	d, err := safefile.OpenDir(root, InstallDirRel(r.Name, e.Version), true, 0o755)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	binName := protocol.BinaryPrefix + adapter
	out.Path = filepath.Join(d.Path(), binName)
	hasMarker := false
	if _, err := d.Lstat(remote.InsecureInstallMarker); err == nil {
		hasMarker = true
	}

	// Already installed? A verified install (no marker) with the pinned
	// bytes is kept; an insecure one is only kept for another insecure sync.
	if !hasMarker || opts.InsecureSkipVerify {
		if got, err := hashIn(d, binName); err == nil && sealedexec.DigestEqual(got, pinned) {
			out.Verified = !hasMarker
			return out, nil
		}
	}

	gh := opts.github()
	rel, err := gh.ReleaseByTag(ctx, src.Owner, src.Repo, e.Version)
	if err != nil {
		if IsNotFound(err) {
			return nil, errcode.Wrap(errcode.AdapterNotFound, err, "remote %q: release %s of %s no longer exists", r.Name, e.Version, src.Slug()).
				WithHint("run 'epack lock %s' to pin an existing release", r.Name)
		}
		return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: fetching release %s of %s", r.Name, e.Version, src.Slug())
	}
	a := rel.Asset(assetName)
	if a == nil {
		return nil, errcode.New(errcode.AdapterNotFound, "remote %q: release %s of %s has no asset %s for %s", r.Name, e.Version, src.Slug(), assetName, platform).
			WithHint("run 'epack lock %s' to pin a release that ships this platform", r.Name)
	}

	tmp, err := d.CreateTemp("." + binName + ".*.tmp")
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			_ = d.Remove(filepath.Base(tmp.Name()))
		}
	}()
	digest, _, err := gh.Download(ctx, a, tmp, 0)
	if err != nil {
		return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: downloading %s %s", r.Name, e.Version, assetName)
	}
	if err := checkGitHubDigest(a, digest); err != nil {
		return nil, errcode.Wrap(errcode.Of(err), err, "remote %q", r.Name)
	}
	if !sealedexec.DigestEqual(digest, pinned) {
		return nil, errcode.New(errcode.DigestMismatch, "remote %q: release %s asset %s has digest %s, but epack.lock.yaml pins %s: the release no longer has the pinned binary", r.Name, e.Version, assetName, digest, pinned).
			WithHint("the release was changed after it was locked; check it, then run 'epack lock %s' to pin what it ships now", r.Name)
	}
	if opts.InsecureSkipVerify {
		fmt.Fprintf(opts.stderr(), "WARNING: installing adapter %q for remote %q without Sigstore verification (--insecure-skip-verify).\n", adapter, r.Name)
	} else {
		signer, err := verifyAsset(ctx, gh, opts, rel, assetName, digest, IdentityFor(src, e.Version))
		if err != nil {
			return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: %s %s", r.Name, e.Version, assetName)
		}
		if err := sameSigner(signer, e.Signer); err != nil {
			return nil, errcode.Wrap(errcode.Of(err), err, "remote %q", r.Name)
		}
		out.Signer, out.Verified = signer, true
	}

	// What is on disk is what becomes executable.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "rereading %s", tmp.Name())
	}
	h := sha256.New()
	if _, err := io.Copy(h, tmp); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "rereading %s", tmp.Name())
	}
	if onDisk := "sha256:" + hex.EncodeToString(h.Sum(nil)); !sealedexec.DigestEqual(onDisk, pinned) {
		return nil, errcode.New(errcode.DigestMismatch, "remote %q: downloaded file %s has digest %s on disk, expected %s", r.Name, tmp.Name(), onDisk, pinned)
	}
	if opts.InsecureSkipVerify {
		// The marker goes first, so an unverified binary never stands
		// without it.
		msg := fmt.Sprintf("installed without Sigstore verification by epack %s --insecure-skip-verify\nremote: %s\nadapter: %s\nversion: %s\ndigest: %s\n", opts.component(), r.Name, adapter, e.Version, pinned)
		if err := d.WriteAtomic(remote.InsecureInstallMarker, []byte(msg), 0o644); err != nil {
			return nil, err
		}
		if err := audit.Insecure(root, "insecure_install", map[string]any{
			"remote": r.Name, "adapter": adapter, "version": e.Version, "digest": pinned,
			"platform": platform, "component": opts.component(), "reason": "insecure_skip_verify",
		}); err != nil {
			return nil, err
		}
	}
	if err := tmp.Chmod(0o755); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "chmod %s", tmp.Name())
	}
	committed = true
	if err := d.Commit(tmp, binName, true); err != nil {
		return nil, err
	}
	if !opts.InsecureSkipVerify && hasMarker {
		if err := d.Remove(remote.InsecureInstallMarker); err != nil {
			return nil, err
		}
		_ = d.Sync()
	}
	out.Changed = true
	return out, nil
}

// hashIn returns the digest of the regular file name in d.
func hashIn(d *safefile.Dir, name string) (string, error) {
	f, err := d.OpenFile(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Installer returns a function for remote.SessionOptions.Install: it installs
// the managed adapter of r.Remote through InstallResult, exactly like `epack
// sync`, reading the remote's configuration from projectRoot's epack.yaml.
// Sigstore verification is never skipped here (an insecure install would be
// refused by push and pull anyway).
func Installer(projectRoot string, lock *config.LockFile, opts Options) func(ctx context.Context, r *remote.Resolved) error {
	return func(ctx context.Context, res *remote.Resolved) error {
		if res == nil {
			return errcode.New(errcode.InvalidInput, "no adapter to install")
		}
		cfg, err := config.Load(projectRoot)
		if err != nil {
			return err
		}
		r, err := cfg.ResolveRemote(res.Remote, "")
		if err != nil {
			return err
		}
		if res.Adapter != "" && res.Adapter != r.AdapterName() {
			// The session resolved the remote with an environment that
			// overrides adapter:; install the binary it looks for.
			r.Adapter = res.Adapter
		}
		o := opts
		o.InsecureSkipVerify = false
		_, err = InstallResult(ctx, projectRoot, r, lock, o)
		return err
	}
}

// checkGitHubDigest compares a download with the digest GitHub reports for
// the asset, when it reports one.
func checkGitHubDigest(a *Asset, digest string) error {
	if a.Digest == "" || !strings.HasPrefix(strings.ToLower(a.Digest), "sha256:") || sealedexec.DigestEqual(a.Digest, digest) {
		return nil
	}
	return errcode.New(errcode.DigestMismatch, "asset %s downloaded with digest %s, but GitHub reports %s", a.Name, digest, a.Digest)
}
