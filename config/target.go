package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The existing tool's example configuration names a filesystem registry as
// target.dir and an S3 bucket as target.bucket, keys it parses and never
// passes on (COMPAT §10.2). For our adapters they mean the obvious thing:
//
//   - target.dir is the filesystem registry's root. Our filesystem adapter
//     uses the remote's file_root as its root, so target.dir sets
//     transport.file_root when that is unset; both set to different folders
//     is a configuration error.
//   - target.bucket is the S3 registry's bucket, passed to the adapter as
//     "bucket" in EPACK_REMOTE_CONFIG when extensions has none; a different
//     extensions.bucket is a configuration error.
//
// Both come from the base remote only (like source and binary, they say
// which registry the remote is): an environment override may not set them,
// and an override whose transport.file_root or extensions.bucket disagrees
// with them is refused when epack.yaml is loaded.

// FileRoot returns the folder file:// transfers of this remote are confined
// to, which is also our filesystem adapter's registry root:
// transport.file_root, else target.dir. "" when neither is set.
func (r *Remote) FileRoot() string {
	if r == nil {
		return ""
	}
	if fr := strings.TrimSpace(r.Transport.FileRoot); fr != "" {
		return fr
	}
	return strings.TrimSpace(r.Target.Dir)
}

// AdapterConfig returns the settings handed to the adapter as JSON in
// EPACK_REMOTE_CONFIG: a copy of extensions, with target.bucket added as
// "bucket" when extensions has no bucket. Never nil.
func (r *Remote) AdapterConfig() map[string]any {
	out := map[string]any{}
	if r == nil {
		return out
	}
	for k, v := range copyMap(r.Extensions) {
		out[k] = v
	}
	if b := strings.TrimSpace(r.Target.Bucket); b != "" && out["bucket"] == nil {
		out["bucket"] = b
	}
	return out
}

// targetConflict is a disagreement between a target shorthand and the
// setting it stands for. key is the remote-relative key to point at.
type targetConflict struct {
	key, msg string
}

// foldTarget writes target.dir into transport.file_root and target.bucket
// into extensions.bucket where those are unset, and reports a conflict where
// they are set to something else. Paths are compared cleaned; it changes
// nothing when there is a conflict.
func (r *Remote) foldTarget() *targetConflict {
	dir := strings.TrimSpace(r.Target.Dir)
	bucket := strings.TrimSpace(r.Target.Bucket)
	if dir != "" {
		fr := strings.TrimSpace(r.Transport.FileRoot)
		if fr != "" && filepath.Clean(fr) != filepath.Clean(dir) {
			return &targetConflict{"transport.file_root", fmt.Sprintf("target.dir %q and transport.file_root %q name different folders", dir, fr)}
		}
	}
	if bucket != "" {
		if v := r.Extensions["bucket"]; v != nil {
			if s, ok := v.(string); !ok || strings.TrimSpace(s) != bucket {
				have := fmt.Sprintf("%q", v)
				if !ok {
					have = fmt.Sprintf("%v (not a string)", v)
				}
				return &targetConflict{"extensions", fmt.Sprintf("target.bucket %q and extensions.bucket %s name different buckets", bucket, have)}
			}
		}
	}
	if dir != "" && strings.TrimSpace(r.Transport.FileRoot) == "" {
		r.Transport.FileRoot = dir
	}
	if bucket != "" && r.Extensions["bucket"] == nil {
		if r.Extensions == nil {
			r.Extensions = map[string]any{}
		}
		r.Extensions["bucket"] = bucket
	}
	return nil
}

// Hints for target conflicts.
const (
	targetConflictHint = "target.dir is the registry folder and its file_root, target.bucket is extensions.bucket: keep one spelling, or give both the same value"
	overrideTargetHint = "target.dir and target.bucket apply to every environment; to change the registry per environment, write transport.file_root or extensions.bucket in the base remote instead and override those"
)

// validateOverrideTargets checks, for every environment override, that the
// merged remote still agrees with the base remote's target.dir and
// target.bucket, so ResolveRemote never fails on a config Load accepted.
func (ld *loader) validateOverrideTargets(c *Config) error {
	for _, en := range sortedKeys(c.Environments) {
		env := c.Environments[en]
		for _, rn := range sortedKeys(env.Remotes) {
			base := c.Remotes[rn]
			if base == nil {
				continue
			}
			merged := base.Clone()
			applyOverride(merged, env.Remotes[rn], env.present[rn])
			if tc := merged.foldTarget(); tc != nil {
				path := "environments." + en + ".remotes." + rn
				line := ld.line(path + "." + tc.key)
				if line == 0 {
					line = ld.line(path)
				}
				return ld.fail(line, fmt.Sprintf("environment %q remote %q", en, rn), "%s (target from the base remote)", tc.msg).
					WithHint(overrideTargetHint)
			}
		}
	}
	return nil
}
