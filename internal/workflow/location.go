package workflow

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/transfer"
)

// LocationRemote is the remote name used in requests for a registry named
// by its location.
const LocationRemote = "location"

// IsLocation reports whether a remote argument names a registry location
// instead of a remote of epack.yaml: a URL (file://, s3://, oci://) or a path
// (absolute, or starting with ./ or ../, or ~/). Remote names never
// contain '/' or ':', so the two cannot be confused.
func IsLocation(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") ||
		strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~/") || s == "." || s == ".."
}

// ParseLocation turns a registry location into the remote that reaches it
// through an adapter bundled with epack:
//
//	file:///srv/evidence, /srv/evidence, ./registry   the filesystem registry in that folder
//	s3://bucket/prefix?region=…&endpoint=…&path_style=true   an S3 bucket
//	oci://ghcr.io/acme/evidence?ca_file=…&plain_http=true    an OCI registry (repositories <namespace>/<stream>)
//
// All take ?workspace=…&environment=… for the registry target. dir
// resolves relative paths.
func ParseLocation(dir, loc string) (*config.Remote, error) {
	bad := func(format string, args ...any) error {
		return errcode.New(errcode.InvalidInput, "registry location %q: "+format, append([]any{loc}, args...)...).
			WithHint("use file:///path/to/registry, a folder path, s3://bucket/prefix?region=…&endpoint=…, or oci://registry.example.com/namespace[?ca_file=…]")
	}
	r := &config.Remote{Name: LocationRemote}
	var query url.Values
	switch {
	case strings.HasPrefix(loc, "s3://"):
		u, err := url.Parse(loc)
		if err != nil {
			return nil, bad("%v", err)
		}
		if u.User != nil || u.Fragment != "" {
			return nil, bad("credentials and fragments are not allowed in the URL (credentials come from the AWS environment)")
		}
		if u.Host == "" {
			return nil, bad("no bucket")
		}
		query = u.Query()
		ext := map[string]any{"bucket": u.Host}
		if p := strings.Trim(u.Path, "/"); p != "" {
			ext["prefix"] = p
		}
		for _, k := range []string{"region", "endpoint"} {
			if v := query.Get(k); v != "" {
				ext[k] = v
			}
		}
		switch query.Get("path_style") {
		case "", "false", "0":
		case "true", "1":
			ext["path_style"] = true
		default:
			return nil, bad("path_style must be true or false")
		}
		r.Adapter, r.Extensions = "s3", ext
		r.Secrets = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"}
		if ep := query.Get("endpoint"); ep != "" {
			eu, err := url.Parse(ep)
			if err != nil || (eu.Scheme != "https" && eu.Scheme != "http") || eu.Host == "" {
				return nil, bad("endpoint must be an http(s) URL")
			}
			if eu.Scheme == "http" {
				if ip := net.ParseIP(eu.Hostname()); ip == nil || !ip.IsLoopback() {
					if eu.Hostname() != "localhost" {
						return nil, bad("a plain http endpoint is only allowed on this machine (loopback)")
					}
				}
				r.Transport.AllowLoopbackHTTP = true
			}
		}
	case strings.HasPrefix(loc, "oci://"):
		u, err := url.Parse(loc)
		if err != nil {
			return nil, bad("%v", err)
		}
		if u.User != nil || u.Fragment != "" {
			return nil, bad("credentials and fragments are not allowed in the URL (credentials come from OCI_USERNAME/OCI_PASSWORD, OCI_TOKEN or the Docker configuration)")
		}
		if u.Host == "" {
			return nil, bad("no registry host")
		}
		query = u.Query()
		ext := map[string]any{"registry": u.Host}
		if ns := strings.Trim(u.Path, "/"); ns != "" {
			ext["namespace"] = ns
		}
		if ca := query.Get("ca_file"); ca != "" {
			ca = Abs(dir, ca)
			if st, err := os.Stat(ca); err != nil || !st.Mode().IsRegular() {
				return nil, bad("ca_file %s is not a file", ca)
			}
			ext["ca_file"] = ca
		}
		switch query.Get("plain_http") {
		case "", "false", "0":
		case "true", "1":
			if h := u.Hostname(); h != "localhost" {
				if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
					return nil, bad("plain_http is only allowed for a registry on this machine (loopback)")
				}
			}
			ext["plain_http"] = true
			r.Transport.AllowLoopbackHTTP = true
		default:
			return nil, bad("plain_http must be true or false")
		}
		r.Adapter, r.Extensions = "oci", ext
		r.Secrets = []string{"OCI_USERNAME", "OCI_PASSWORD", "OCI_TOKEN", "DOCKER_CONFIG"}
		// The adapter hands over blobs it must fetch itself (private CA,
		// storage that needs the credential) through a folder of ours.
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, bad("no cache folder for downloads: %v", err)
		}
		r.Transport.FileRoot = filepath.Join(cache, "epack", "oci-transfers")
	default:
		p := loc
		if strings.HasPrefix(loc, "file://") {
			u, err := url.Parse(loc)
			if err != nil {
				return nil, bad("%v", err)
			}
			if u.Host != "" && u.Host != "localhost" {
				return nil, bad("only local file:// URLs are supported (file:///path)")
			}
			query, p = u.Query(), u.Path
		} else if strings.Contains(loc, "://") {
			return nil, bad("unknown scheme")
		}
		if strings.HasPrefix(p, "~/") {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, bad("cannot find the home folder: %v", err)
			}
			p = filepath.Join(home, p[2:])
		}
		p = Abs(dir, p)
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			return nil, bad("%s is not a folder", p)
		}
		r.Adapter = "filesystem"
		r.Transport.FileRoot = p
	}
	r.Target.Workspace, r.Target.Environment = query.Get("workspace"), query.Get("environment")
	if err := names.CheckOptional(names.Workspace, r.Target.Workspace); err != nil {
		return nil, bad("workspace: %v", err)
	}
	if err := names.CheckOptional(names.Environment, r.Target.Environment); err != nil {
		return nil, bad("environment: %v", err)
	}
	return r, nil
}

// loadLocation is Load for a registry named by location: no project,
// the bundled adapter only (see remote.Policy.BundledOnly).
func loadLocation(op Op, dir, loc string) (*Env, error) {
	r, err := ParseLocation(dir, loc)
	if err != nil {
		return nil, err
	}
	if r.Adapter == "oci" {
		if err := os.MkdirAll(r.Transport.FileRoot, 0o700); err != nil {
			return nil, errcode.Wrap(errcode.IOError, err, "creating the download folder %s", r.Transport.FileRoot)
		}
	}
	return &Env{
		Op: op, Dir: dir, RemoteName: LocationRemote, Remote: r, Location: loc,
		Policy: transfer.Policy{FileRoot: r.Transport.FileRoot, AllowLoopbackHTTP: r.Transport.AllowLoopbackHTTP},
	}, nil
}

// StateDir is where records go when there is no project (receipts of an
// auditor's pulls): $XDG_STATE_HOME/epack, or ~/.local/state/epack.
func StateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "epack"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "finding the home folder for receipts")
	}
	return filepath.Join(home, ".local", "state", "epack"), nil
}
