package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/yamlsafe"
	"gopkg.in/yaml.v3"
)

// Limits of COMPAT §1.13 for epack.lock.yaml.
const (
	MaxLockBytes      = 10 << 20
	MaxLockPlatforms  = 100
	MaxVersionLength  = 128
	lockTimestampForm = "2006-01-02T15:04:05Z"
)

var (
	lockVersionPattern = regexp.MustCompile(`^v?\d+(\.\d+)?(\.\d+)?(-[A-Za-z0-9][A-Za-z0-9.-]*)?$`)
	strictTimePattern  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

// PlatformKey returns the lockfile platform key of this process: "<GOOS>/<GOARCH>".
func PlatformKey() string { return runtime.GOOS + "/" + runtime.GOARCH }

// LoadLock reads <root>/epack.lock.yaml. A missing file gives an empty lock
// (SchemaVersion 1). The last path component is opened without following
// symlinks, the file must be at most 10 MiB and pass the YAML safety checks;
// decoding is not strict (unknown keys are ignored). Entries are checked as
// COMPAT §3 says; every error is errcode.LockfileInvalid (or
// SymlinkNotAllowed) naming the entry.
func LoadLock(root string) (*LockFile, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "invalid project root %q", root)
	}
	path := filepath.Join(abs, LockFileName)
	data, err := yamlsafe.ReadFile(path, MaxLockBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &LockFile{SchemaVersion: 1, Remotes: map[string]*LockedRemote{}}, nil
	}
	if err != nil {
		return nil, fileError(errcode.LockfileInvalid, path, err)
	}
	return parseLock(data)
}

func lockFail(line int, ctx, format string, args ...any) *errcode.Error {
	msg := fmt.Sprintf(format, args...)
	if ctx != "" {
		msg = ctx + ": " + msg
	}
	loc := LockFileName
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", LockFileName, line)
	}
	return errcode.New(errcode.LockfileInvalid, "%s: %s", loc, msg).
		WithHint("fix or delete %s and run 'epack lock' to pin the adapters again", LockFileName)
}

func parseLock(data []byte) (*LockFile, error) {
	l := &LockFile{SchemaVersion: 1, Remotes: map[string]*LockedRemote{}}
	node, err := yamlsafe.Parse(data, yamlsafe.DefaultLimits)
	if err != nil {
		line, msg := splitYAMLError(err)
		return nil, lockFail(line, "", "invalid YAML: %s", msg)
	}
	if node == nil || isNull(node) {
		return l, nil
	}
	if deref(node).Kind != yaml.MappingNode {
		return nil, lockFail(node.Line, "", "the top level must be a mapping")
	}
	ps, err := mappingPairs(node)
	if err != nil {
		line, msg := splitYAMLError(err)
		return nil, lockFail(line, "", "%s", msg)
	}
	for _, p := range ps {
		switch p.key {
		case "schema_version":
			var v int
			if err := p.val.Decode(&v); err != nil {
				line, msg := splitYAMLError(err)
				return nil, lockFail(line, "", "schema_version: %s", msg)
			}
			if v != 0 {
				l.SchemaVersion = v
			}
		case "remotes":
			if isNull(p.val) {
				continue
			}
			if deref(p.val).Kind != yaml.MappingNode {
				return nil, lockFail(p.keyNode.Line, "", "remotes must be a mapping")
			}
			rps, err := mappingPairs(p.val)
			if err != nil {
				line, msg := splitYAMLError(err)
				return nil, lockFail(line, "", "remotes: %s", msg)
			}
			if len(rps) > MaxRemotes {
				return nil, lockFail(p.keyNode.Line, "", "remotes: %d entries, at most %d are allowed", len(rps), MaxRemotes)
			}
			for _, rp := range rps {
				ctx := fmt.Sprintf("remote %q", rp.key)
				e := &LockedRemote{}
				if !isNull(rp.val) {
					if err := rp.val.Decode(e); err != nil {
						line, msg := splitYAMLError(err)
						return nil, lockFail(line, ctx, "%s", msg)
					}
				}
				if err := checkLockedRemote(rp.key, e); err != nil {
					return nil, lockFail(rp.keyNode.Line, ctx, "%v", err)
				}
				l.Remotes[rp.key] = e
			}
		}
	}
	return l, nil
}

// checkLockedRemote applies the parse-time checks of COMPAT §3 to one entry.
func checkLockedRemote(name string, e *LockedRemote) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("invalid remote name: %v", err)
	}
	if e == nil {
		return fmt.Errorf("entry is empty")
	}
	if e.Kind != KindExternal {
		if e.Version == "" {
			return fmt.Errorf("version is required for a source (non-external) entry")
		}
		if !lockVersionPattern.MatchString(e.Version) {
			return fmt.Errorf("version %q is not a valid version (such as v1.2.3)", e.Version)
		}
	}
	if e.Version != "" {
		if len(e.Version) > MaxVersionLength {
			return fmt.Errorf("version is longer than %d characters", MaxVersionLength)
		}
		if strings.ContainsAny(e.Version, `/\`) || strings.Contains(e.Version, "..") || strings.ContainsRune(e.Version, 0) {
			return fmt.Errorf("version %q must not contain path separators or \"..\"", e.Version)
		}
	}
	if e.LockedAt != "" {
		if err := checkStrictTime(e.LockedAt); err != nil {
			return fmt.Errorf("locked_at: %v", err)
		}
	}
	if e.Verification != nil && e.Verification.VerifiedAt != "" {
		if err := checkStrictTime(e.Verification.VerifiedAt); err != nil {
			return fmt.Errorf("verification.verified_at: %v", err)
		}
	}
	if len(e.Platforms) > MaxLockPlatforms {
		return fmt.Errorf("platforms: %d entries, at most %d are allowed", len(e.Platforms), MaxLockPlatforms)
	}
	for _, k := range sortedKeys(e.Platforms) {
		if !platformPattern.MatchString(k) {
			return fmt.Errorf("platforms: %q is not a \"<goos>/<goarch>\" key", k)
		}
		if d := e.Platforms[k].Digest; d != "" && !isPinDigest(d) {
			return fmt.Errorf("platforms.%s.digest: %q is not \"sha256:\" followed by 64 lowercase hex digits", k, d)
		}
	}
	return nil
}

// checkStrictTime accepts exactly YYYY-MM-DDTHH:MM:SSZ with a real date and time.
func checkStrictTime(s string) error {
	if !strictTimePattern.MatchString(s) {
		return fmt.Errorf("%q is not a timestamp of the form YYYY-MM-DDTHH:MM:SSZ", s)
	}
	if _, err := time.Parse(lockTimestampForm, s); err != nil {
		return fmt.Errorf("%q is not a valid date and time", s)
	}
	return nil
}

// Entry returns the lock entry of remoteName, or nil.
func (l *LockFile) Entry(remoteName string) *LockedRemote {
	if l == nil {
		return nil
	}
	return l.Remotes[remoteName]
}

// PinnedDigest returns the digest pinned for remoteName on platformKey
// ("" means this process's PlatformKey()), or "" when there is none.
func (l *LockFile) PinnedDigest(remoteName, platformKey string) string {
	e := l.Entry(remoteName)
	if e == nil {
		return ""
	}
	if platformKey == "" {
		platformKey = PlatformKey()
	}
	return e.Platforms[platformKey].Digest
}

// Pin records digest for remoteName on platformKey ("" = PlatformKey()),
// keeping the entry's other platforms. kind KindExternal (binary:, PATH and
// bundled adapters) also sets kind: external and locked_at = now (UTC,
// second resolution). When the entry's kind changes (a source remote turned
// into a binary one or back), the old entry is dropped first, because its
// other platforms pin a different adapter.
func (l *LockFile) Pin(remoteName string, kind, platformKey, digest string, now time.Time) {
	if l.SchemaVersion == 0 {
		l.SchemaVersion = 1
	}
	if l.Remotes == nil {
		l.Remotes = map[string]*LockedRemote{}
	}
	if platformKey == "" {
		platformKey = PlatformKey()
	}
	e := l.Remotes[remoteName]
	if e == nil || e.Kind != kind {
		e = &LockedRemote{}
		l.Remotes[remoteName] = e
	}
	e.Kind = kind
	if kind == KindExternal {
		e.LockedAt = now.UTC().Format(lockTimestampForm)
	}
	if e.Platforms == nil {
		e.Platforms = map[string]LockedPlatform{}
	}
	p := e.Platforms[platformKey]
	p.Digest = digest
	e.Platforms[platformKey] = p
}

// isPinDigest reports whether d is "sha256:" and 64 lowercase hex digits.
func isPinDigest(d string) bool {
	return len(d) == 71 && strings.HasPrefix(d, "sha256:") && strings.Trim(d[7:], "0123456789abcdef") == ""
}
