package sourceinstall

import (
	"context"
	"fmt"
	"github.com/evidencerelay/epack/internal/audit"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// Verification statuses written to the lockfile.
const (
	StatusVerified = "verified"
	StatusSkipped  = "skipped" // --insecure-skip-verify
)

// Options configure LockSource, Install and Installer.
type Options struct {
	// GitHub is the API client; nil means NewGitHubFromEnv().
	GitHub *GitHub
	// Verifier checks bundles; nil means the Sigstore public-good root
	// (PublicGoodVerifier, loaded on first use).
	Verifier Verifier
	// InsecureSkipVerify installs without checking the Sigstore bundle. The
	// pinned digest is still checked. It leaves the .insecure-install marker
	// and an audit line. Refused together with Frozen.
	InsecureSkipVerify bool
	// Frozen refuses anything that would change the lockfile or install
	// without verification.
	Frozen bool
	// StrictProduction refuses InsecureSkipVerify (PolicyViolation). The
	// epack CLI sets it from EPACK_STRICT_PRODUCTION; this package reads no
	// environment for it.
	StrictProduction bool
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Stderr receives warnings (nil: os.Stderr).
	Stderr io.Writer
	// Component names the caller in audit lines (default "sync").
	Component string
}

func (o *Options) github() *GitHub {
	if o.GitHub != nil {
		return o.GitHub
	}
	return NewGitHubFromEnv()
}

func (o *Options) verifier() Verifier {
	if o.Verifier != nil {
		return o.Verifier
	}
	return lazyVerifier{}
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) stderr() io.Writer {
	if o.Stderr != nil {
		return o.Stderr
	}
	return os.Stderr
}

func (o *Options) component() string {
	if o.Component != "" {
		return o.Component
	}
	return "sync"
}

// checkInsecure refuses InsecureSkipVerify in frozen mode.
func (o *Options) checkInsecure() error {
	if o.InsecureSkipVerify && o.Frozen {
		return errcode.New(errcode.PolicyViolation, "--insecure-skip-verify cannot be used with --frozen").
			WithHint("frozen mode installs only adapters whose Sigstore signature verifies")
	}
	if o.InsecureSkipVerify && o.StrictProduction {
		return errcode.New(errcode.PolicyViolation, "strict production mode forbids insecure execution overrides for %s", o.component())
	}
	return nil
}

const lockTimeFormat = "2006-01-02T15:04:05Z"

// AssetName returns the release asset of adapter for platform
// "<goos>/<goarch>": epack-remote-<adapter>_<goos>_<goarch>[.exe].
func AssetName(adapter, platform string) string {
	goos, goarch, _ := strings.Cut(platform, "/")
	name := protocol.BinaryPrefix + adapter + "_" + goos + "_" + goarch
	if goos == "windows" {
		name += ".exe"
	}
	return name
}

// BundleName returns the Sigstore bundle asset for an asset.
func BundleName(asset string) string { return asset + ".sigstore.json" }

// Platforms returns the platforms to lock: epack.yaml `platforms:` or the
// current one, sorted and without duplicates.
func Platforms(cfg *config.Config) []string {
	var ps []string
	if cfg != nil {
		ps = append(ps, cfg.Platforms...)
	}
	return normPlatforms(ps)
}

func normPlatforms(ps []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ps {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{config.PlatformKey()}
	}
	sort.Strings(out)
	return out
}

// sourceRemote returns remoteName of the project, checking it is a source remote.
func sourceRemote(project *config.Project, remoteName string) (*config.Remote, Source, string, error) {
	if project == nil || project.Config == nil {
		return nil, Source{}, "", errcode.New(errcode.InvalidInput, "no project given")
	}
	r, err := project.Config.ResolveRemote(remoteName, "")
	if err != nil {
		return nil, Source{}, "", err
	}
	src, adapter, err := remoteSource(r)
	return r, src, adapter, err
}

func remoteSource(r *config.Remote) (Source, string, error) {
	if r == nil || strings.TrimSpace(r.Source) == "" {
		name := ""
		if r != nil {
			name = r.Name
		}
		return Source{}, "", errcode.New(errcode.ConfigInvalid, "remote %q has no source: in epack.yaml", name)
	}
	src, err := ParseSource(r.Source)
	if err != nil {
		return Source{}, "", errcode.Wrap(errcode.ConfigInvalid, err, "remote %q", r.Name)
	}
	adapter := r.AdapterName()
	if err := config.CheckName(adapter); err != nil {
		return Source{}, "", errcode.New(errcode.ConfigInvalid, "remote %q: invalid adapter name %q: %v", r.Name, adapter, err)
	}
	return src, adapter, nil
}

// candidate is a release whose tag parses as a version the lockfile accepts.
type candidate struct {
	rel *Release
	ver Version
}

// pickRelease returns the highest non-draft release satisfying c.
func pickRelease(rels []Release, c Constraint) (*candidate, []string) {
	var best *candidate
	var seen []string
	for i := range rels {
		r := &rels[i]
		if r.Draft || len(r.TagName) > config.MaxVersionLength || strings.ContainsAny(r.TagName, `/\`) {
			continue
		}
		v, err := ParseVersion(r.TagName)
		if err != nil || strings.Contains(r.TagName, "+") {
			continue
		}
		seen = append(seen, r.TagName)
		if !c.Allows(v) {
			continue
		}
		if best == nil || v.Compare(best.ver) > 0 || (v.Compare(best.ver) == 0 && strings.HasPrefix(r.TagName, "v") && !strings.HasPrefix(best.rel.TagName, "v")) {
			best = &candidate{rel: r, ver: v}
		}
	}
	return best, seen
}

// LockResult describes what LockSource pinned.
type LockResult struct {
	Remote    string
	Adapter   string
	Source    string
	Version   string
	Previous  string // previously locked version ("" when new)
	Commit    string
	Platforms []string
}

// LockSource resolves the source remote remoteName through the GitHub
// releases API and records in lock: version (the release tag), commit,
// signer, resolved_from, verification, locked_at, and for each platform
// (nil: epack.yaml `platforms:`, default the current one) the asset, its
// SHA-256 digest and its URL. Every platform's asset is downloaded, hashed
// and its Sigstore bundle verified; nothing in lock changes unless all of
// them succeed. When the version does not change, pins of platforms not
// asked for are kept.
func LockSource(ctx context.Context, project *config.Project, lock *config.LockFile, remoteName string, platforms []string, opts Options) error {
	_, err := LockSourceResult(ctx, project, lock, remoteName, platforms, opts)
	return err
}

// LockSourceResult is LockSource returning a summary.
func LockSourceResult(ctx context.Context, project *config.Project, lock *config.LockFile, remoteName string, platforms []string, opts Options) (*LockResult, error) {
	if lock == nil {
		return nil, errcode.New(errcode.InvalidInput, "no lockfile given")
	}
	if opts.Frozen {
		return nil, errcode.New(errcode.LockfileInvalid, "remote %q: locking would change epack.lock.yaml (frozen)", remoteName).
			WithHint("run 'epack lock %s' without --frozen and commit epack.lock.yaml", remoteName)
	}
	if err := opts.checkInsecure(); err != nil {
		return nil, err
	}
	_, src, adapter, err := sourceRemote(project, remoteName)
	if err != nil {
		return nil, err
	}
	if platforms == nil {
		platforms = Platforms(project.Config)
	}
	platforms = normPlatforms(platforms)
	if len(platforms) > config.MaxLockPlatforms {
		return nil, errcode.New(errcode.ConfigInvalid, "%d platforms, at most %d are allowed", len(platforms), config.MaxLockPlatforms)
	}
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || config.CheckName(goos) != nil || config.CheckName(goarch) != nil || strings.Contains(goarch, "/") {
			return nil, errcode.New(errcode.ConfigInvalid, "platforms: %q is not a \"<goos>/<goarch>\" key", p)
		}
	}
	gh := opts.github()
	rels, err := gh.ListReleases(ctx, src.Owner, src.Repo)
	if err != nil {
		return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: listing releases of %s", remoteName, src.Slug())
	}
	best, seen := pickRelease(rels, src.Constraint)
	if best == nil {
		sort.Strings(seen)
		have := "no releases with version tags"
		if len(seen) > 0 {
			if len(seen) > 10 {
				seen = append(seen[len(seen)-10:], "…")
			}
			have = "releases: " + strings.Join(seen, ", ")
		}
		return nil, errcode.New(errcode.RemoteNotFound, "remote %q: no release of %s satisfies %q (%s)", remoteName, src.Slug(), src.Constraint.String(), have).
			WithHint("change the constraint in epack.yaml (source: %s@…)", src.Slug())
	}
	tag := best.rel.TagName
	commit, err := gh.TagCommit(ctx, src.Owner, src.Repo, tag)
	if err != nil {
		return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: resolving the commit of %s %s", remoteName, src.Slug(), tag)
	}
	want := IdentityFor(src, tag)
	now := opts.now().UTC()
	pins := map[string]config.LockedPlatform{}
	var signer *Signer
	for _, p := range platforms {
		name := AssetName(adapter, p)
		a := best.rel.Asset(name)
		if a == nil {
			return nil, errcode.New(errcode.AdapterNotFound, "remote %q: release %s of %s has no asset %s for platform %s", remoteName, tag, src.Slug(), name, p).
				WithHint("remove %s from platforms: in epack.yaml, or use a release that ships it", p)
		}
		digest, s, err := fetchVerified(ctx, gh, opts, best.rel, a, want, nil)
		if err != nil {
			return nil, errcode.Wrap(errcode.Of(err), err, "remote %q: %s %s", remoteName, tag, name)
		}
		if signer == nil && s != nil {
			signer = s
		}
		pins[p] = config.LockedPlatform{Digest: digest, Asset: name, URL: cleanURL(a.BrowserDownloadURL)}
	}
	if signer != nil && signer.SourceCommit != "" && !strings.EqualFold(signer.SourceCommit, commit) {
		return nil, errcode.New(errcode.IdentityMismatch, "remote %q: %s was signed at commit %s, but tag %s points to %s", remoteName, src.Slug(), signer.SourceCommit, tag, commit).
			WithHint("the tag was moved after the release was built; ask the maintainers to re-release")
	}

	prev := lock.Entry(remoteName)
	res := &LockResult{Remote: remoteName, Adapter: adapter, Source: src.LockSource(), Version: tag, Commit: commit, Platforms: platforms}
	if prev != nil && prev.Kind != config.KindExternal {
		res.Previous = prev.Version
		if prev.Version == tag && prev.Source == src.LockSource() {
			for k, v := range prev.Platforms {
				if _, ok := pins[k]; !ok {
					pins[k] = v
				}
			}
		}
	}
	e := &config.LockedRemote{
		Source:       src.LockSource(),
		Version:      tag,
		Commit:       commit,
		ResolvedFrom: &config.LockResolvedFrom{Registry: registryName(gh), Descriptor: src.String()},
		LockedAt:     now.Format(lockTimeFormat),
		Platforms:    pins,
	}
	if signer != nil {
		e.Signer = signer.Lock()
		e.Verification = &config.LockVerification{Status: StatusVerified, VerifiedAt: now.Format(lockTimeFormat)}
	} else {
		e.Verification = &config.LockVerification{Status: StatusSkipped}
		fmt.Fprintf(opts.stderr(), "WARNING: locking remote %q (%s %s) without Sigstore verification (--insecure-skip-verify).\n", remoteName, src.Slug(), tag)
		if err := audit.Insecure(project.Root, "insecure_lock", map[string]any{
			"remote": remoteName, "adapter": adapter, "version": tag, "source": src.LockSource(),
			"component": opts.component(), "reason": "insecure_skip_verify",
		}); err != nil {
			return nil, err
		}
	}
	if lock.SchemaVersion == 0 {
		lock.SchemaVersion = 1
	}
	if lock.Remotes == nil {
		lock.Remotes = map[string]*config.LockedRemote{}
	}
	lock.Remotes[remoteName] = e
	return res, nil
}

// registryName is "github" for api.github.com, else the API host.
func registryName(gh *GitHub) string {
	u, err := gh.base()
	if err != nil || strings.EqualFold(u.Host, "api.github.com") {
		return "github"
	}
	return u.Host
}

func cleanURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// fetchVerified downloads asset a (into w when not nil, else discarding it),
// then unless opts.InsecureSkipVerify downloads and verifies its bundle for
// the asset's digest. It returns the digest and the verified signer (nil
// when verification was skipped).
func fetchVerified(ctx context.Context, gh *GitHub, opts Options, rel *Release, a *Asset, want Identity, w io.Writer) (string, *Signer, error) {
	if w == nil {
		w = io.Discard
	}
	digest, _, err := gh.Download(ctx, a, w, 0)
	if err != nil {
		return "", nil, err
	}
	if err := checkGitHubDigest(a, digest); err != nil {
		return "", nil, err
	}
	if opts.InsecureSkipVerify {
		return digest, nil, nil
	}
	signer, err := verifyAsset(ctx, gh, opts, rel, a.Name, digest, want)
	return digest, signer, err
}

// verifyAsset fetches <asset>.sigstore.json from rel and verifies it.
func verifyAsset(ctx context.Context, gh *GitHub, opts Options, rel *Release, asset, digest string, want Identity) (*Signer, error) {
	ba := rel.Asset(BundleName(asset))
	if ba == nil {
		return nil, errcode.New(errcode.SignatureInvalid, "release %s has no Sigstore bundle %s", rel.TagName, BundleName(asset)).
			WithHint("only signed releases can be installed; ask the maintainers to publish %s", BundleName(asset))
	}
	data, err := gh.DownloadBytes(ctx, ba, maxBundleBytes)
	if err != nil {
		return nil, err
	}
	return opts.verifier().Verify(data, digest, want)
}
