package transfer

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// Target is an upload or download instruction from the adapter.
type Target struct {
	Method    string
	URL       string
	Headers   map[string]string
	ExpiresAt time.Time
}

// Policy is the remote's transport policy (epack.yaml `transport`).
type Policy struct {
	// FileRoot enables file:// URLs; the path must be equal to or below it.
	// A relative FileRoot is taken relative to the current directory.
	FileRoot string
	// ProjectRoot, when set and FileRoot lies inside it, makes every folder
	// from ProjectRoot down to a file:// path be opened without following
	// symbolic links, FileRoot's own components included: a linked .epack
	// (or any linked folder above the registry) inside the project is
	// refused instead of written through. A FileRoot outside ProjectRoot is
	// resolved as the user wrote it, and only the folders below it are held
	// to no-follow.
	ProjectRoot string
	// AllowLoopbackHTTP enables http:// to localhost, 127.0.0.1 and ::1.
	AllowLoopbackHTTP bool
}

// loopbackHosts are the only hosts plain http may reach.
var loopbackHosts = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}

// CheckURL parses raw and applies the URL policy: https to any host; http only
// to exactly localhost, 127.0.0.1 or ::1 and only with AllowLoopbackHTTP;
// file:// only with FileRoot set, host empty or "localhost", and the cleaned
// path equal to or inside FileRoot (PathTraversal otherwise). Anything else —
// other schemes, no scheme or host, user info, surrounding white space — gives
// errcode.URLNotAllowed.
func CheckURL(raw string, p Policy) (*url.URL, error) {
	u, _, err := checkURL(raw, p)
	return u, err
}

// checkURL is CheckURL that also returns, for file:// URLs, the absolute
// cleaned destination path.
func checkURL(raw string, p Policy) (*url.URL, string, error) {
	if raw == "" {
		return nil, "", notAllowed("empty URL")
	}
	if strings.TrimSpace(raw) != raw {
		return nil, "", notAllowed("URL %q has leading or trailing white space", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", errcode.Wrap(errcode.URLNotAllowed, err, "invalid URL")
	}
	if u.Scheme == "" {
		return nil, "", notAllowed("URL %q has no scheme", redact(u))
	}
	if u.Opaque != "" {
		return nil, "", notAllowed("URL %q is not hierarchical", redact(u))
	}
	if u.User != nil {
		return nil, "", notAllowed("URL %q carries user information; refusing", redact(u))
	}
	switch u.Scheme {
	case "https":
		if u.Hostname() == "" {
			return nil, "", notAllowed("URL %q has no host", redact(u))
		}
		return u, "", nil
	case "http":
		host := u.Hostname()
		if host == "" {
			return nil, "", notAllowed("URL %q has no host", redact(u))
		}
		if !loopbackHosts[host] {
			return nil, "", notAllowed("HTTP is not allowed for %s: only https, or http to localhost, 127.0.0.1 or ::1 with transport.allow_loopback_http", host)
		}
		if !p.AllowLoopbackHTTP {
			return nil, "", notAllowed("HTTP is not allowed for %s", host).
				WithHint("set transport.allow_loopback_http: true on the remote to allow a local test server")
		}
		return u, "", nil
	case "file":
		if p.FileRoot == "" {
			return nil, "", notAllowed("file:// URLs require transport.file_root to be configured in the remote").
				WithHint("set transport.file_root on the remote to the folder the adapter writes to")
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, "", notAllowed("file:// URL names host %q; only an empty host or localhost is allowed", u.Host)
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return nil, "", notAllowed("file:// URL has no absolute path")
		}
		dest, err := containedPath(p.FileRoot, u.Path)
		if err != nil {
			return nil, "", err
		}
		return u, dest, nil
	}
	return nil, "", notAllowed("URL scheme %q is not allowed (only https, loopback http and file:// under file_root)", u.Scheme)
}

// containedPath makes root and path absolute and clean and returns path if it
// equals root or lies inside it (text comparison with a trailing separator).
// A relative path is taken relative to the current directory, like root.
func containedPath(root, path string) (string, error) {
	if strings.IndexByte(path, 0) >= 0 || strings.IndexByte(root, 0) >= 0 {
		return "", errcode.New(errcode.PathTraversal, "path contains a NUL byte")
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "resolving file_root %q", root)
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "resolving %q", path)
	}
	if absPath == absRoot {
		return absPath, nil
	}
	prefix := absRoot
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(absPath, prefix) {
		return "", errcode.New(errcode.PathTraversal, "path %s is outside file_root %s", absPath, absRoot)
	}
	return absPath, nil
}

// relToRoot returns dest (already contained) relative to root.
func relToRoot(root, dest string) (string, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "resolving file_root %q", root)
	}
	rel, err := filepath.Rel(absRoot, dest)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", errcode.New(errcode.PathTraversal, "path %s is outside file_root %s", dest, absRoot)
	}
	return rel, nil
}

// openRootDir opens the folder rel below p.FileRoot (creating missing
// folders of rel with create), walking from p.ProjectRoot when FileRoot is
// inside it; see Policy.ProjectRoot.
func openRootDir(p Policy, rel string, create bool) (*safefile.Dir, error) {
	d, err := safefile.OpenDirBelow(p.ProjectRoot, p.FileRoot, rel, create, 0o755)
	if err != nil {
		return nil, rootHint(p.FileRoot, err)
	}
	return d, nil
}

func notAllowed(format string, args ...any) *errcode.Error {
	return errcode.New(errcode.URLNotAllowed, format, args...)
}

// redact returns u without its query (presigned URLs carry credentials
// there) and without user info, for messages.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	c.Fragment = ""
	return c.String()
}
