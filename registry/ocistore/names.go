package ocistore

import (
	"regexp"
	"slices"
	"strings"

	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Repository path components and tags, as the distribution spec has them.
var componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// maxReferenceBytes bounds <registry>/<repository>, as distribution does.
const maxReferenceBytes = 255

func validComponent(s string) bool { return componentRE.MatchString(s) }

// Tags the registry writes besides the versions.
const (
	tagLatest     = "latest"
	packTagPrefix = "pack-sha256-"
	releasePrefix = "rel_"
	// referrersTagPrefix is the referrers tag schema's (sha256-<hex>).
	referrersTagPrefix = "sha256-"
)

func packTag(fileHex string) string { return packTagPrefix + fileHex }

// mapName lower-cases a name for a repository path and checks each part
// against the distribution spec's component rule.
func mapName(s string) (string, bool) {
	for _, r := range s {
		if r >= 0x80 {
			return "", false
		}
	}
	out := strings.ToLower(s)
	for _, seg := range strings.Split(out, "/") {
		if !validComponent(seg) {
			return "", false
		}
	}
	return out, true
}

// StreamPath maps a stream name to its repository path below the
// namespace: the stream lower-cased, each '/'-separated part lowercase
// letters and digits joined by '.', '_', '__' or '-'. A stream that does
// not map is refused (invalid_request) with the rule.
func StreamPath(stream string) (string, error) {
	if err := registry.CheckName(registry.KindStream, stream); err != nil {
		return "", err
	}
	p, ok := mapName(stream)
	if !ok {
		return "", bad("stream %q cannot be an OCI repository name: each '/'-separated part must be letters and digits (lower-cased for the registry), joined by single '.', '_' or '__', or by '-'s, with no other characters; rename the stream (stream: in epack.yaml)", stream)
	}
	return p, nil
}

// Repository returns the repository path of a stream of target (which
// must name the stream): the namespace, placeholders filled in, then
// StreamPath. The whole reference must fit 255 bytes.
func (c Config) Repository(t protocol.TargetConfig) (string, error) {
	sp, err := StreamPath(t.Stream)
	if err != nil {
		return "", err
	}
	ns, err := c.namespaceFor(t)
	if err != nil {
		return "", err
	}
	repo := sp
	if ns != "" {
		repo = ns + "/" + sp
	}
	if n := len(c.Registry) + 1 + len(repo); n > maxReferenceBytes {
		return "", bad("repository %s/%s is too long (%d bytes, limit %d): use a shorter stream or namespace", c.Registry, repo, n, maxReferenceBytes)
	}
	return repo, nil
}

// namespaceFor fills in the namespace's {workspace} and {environment}.
func (c Config) namespaceFor(t protocol.TargetConfig) (string, error) {
	ns := c.Namespace
	for _, ph := range []struct{ key, kind, val string }{
		{"{workspace}", registry.KindWorkspace, t.Workspace},
		{"{environment}", registry.KindEnvironment, t.Environment},
	} {
		if !strings.Contains(ns, ph.key) {
			continue
		}
		v := "default"
		if ph.val != "" {
			if err := registry.CheckName(ph.kind, ph.val); err != nil {
				return "", err
			}
			m, ok := mapName(ph.val)
			if !ok {
				return "", bad("%s %q cannot be part of an OCI repository name (extensions.namespace uses %s): use letters and digits joined by '.', '_' or '-'", ph.kind, ph.val, ph.key)
			}
			v = m
		}
		ns = strings.ReplaceAll(ns, ph.key, v)
	}
	return ns, nil
}

// VersionTag is the tag of a version: the version with '+' (semver build
// metadata, not allowed in tags) written '_'. A version that is no tag, or
// one that would look like a tag this registry writes for itself, is
// refused.
func VersionTag(v string) (string, error) {
	if err := registry.CheckName(registry.KindVersion, v); err != nil {
		return "", err
	}
	t := strings.ReplaceAll(v, "+", "_")
	if !names.Token(t, names.Lower+names.Upper+names.Digits+"_", names.Lower+names.Upper+names.Digits+"._-", 127) {
		return "", bad("version %q cannot be an OCI tag: tags are up to 128 letters, digits, '.', '_' and '-', not starting with '.' or '-' ('+' is written '_')", v)
	}
	if reservedTag(t) {
		return "", bad("version %q would be written as tag %q, which this registry uses for itself (latest, rel_…, pack-sha256-…, run-…, sig-…, vc-…, sha256-…): choose another version", v, t)
	}
	return t, nil
}

func reservedTag(t string) bool {
	return t == tagLatest || strings.HasPrefix(t, releasePrefix) || strings.HasPrefix(t, packTagPrefix) || strings.HasPrefix(t, referrersTagPrefix) || strings.HasPrefix(t, "run-") || strings.HasPrefix(t, "sig-") || strings.HasPrefix(t, "vc-")
}

// versionsOf returns the versions labels declare, by package registry's
// rule: a label "v<digit>…" is a version as is; "version:X" and
// "version=X" declare X.
func versionsOf(labels []string) []string {
	var out []string
	for _, l := range labels {
		v := ""
		switch {
		case len(l) >= 2 && l[0] == 'v' && l[1] >= '0' && l[1] <= '9':
			v = l
		case strings.HasPrefix(l, "version:"):
			v = l[len("version:"):]
		case strings.HasPrefix(l, "version="):
			v = l[len("version="):]
		}
		if v != "" && registry.CheckName(registry.KindVersion, v) == nil && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// mergeLabels returns have followed by the labels of add it lacks.
func mergeLabels(have, add []string) []string {
	out := slices.Clone(have)
	for _, l := range add {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
