package config

import (
	"sort"
	"strings"

	"github.com/evidencerelay/epack/errcode"
)

// ResolveRemote returns a deep copy of remote name with the overrides of
// environment env applied (env "" means no environment). The result never
// shares memory with c.
//
// Merge rules (COMPAT §2.4): adapter, target.workspace, target.environment,
// insecure_endpoint, auth.mode, auth.profile, auth.insecure_endpoint and
// release.notes replace the base when non-empty; release.labels replaces the
// whole list when non-empty; runs.sync replaces when set; runs.require_success
// can only be switched on. Our extension: transport.file_root and runs.paths
// replace when non-empty, transport.allow_loopback_http, extensions,
// verify.strict and verify.signers replace when written in the override,
// verify.trust_root when non-empty. Everything else comes from the base.
// Afterwards target.dir and target.bucket fill transport.file_root and
// extensions.bucket where those are unset (see FileRoot, AdapterConfig).
//
// Errors: errcode.RemoteNotFound `remote "<r>" not found in config`;
// errcode.ConfigInvalid `environment "<e>" not found in config`, or (only for
// a config not made by Load, which refuses it) a target.dir / target.bucket
// that disagrees with transport.file_root / extensions.bucket.
func (c *Config) ResolveRemote(name, env string) (*Remote, error) {
	var base *Remote
	if c != nil {
		base = c.Remotes[name]
	}
	if base == nil {
		e := errcode.New(errcode.RemoteNotFound, "remote %q not found in config", name)
		if c == nil || len(c.Remotes) == 0 {
			return nil, e.WithHint("no remotes are configured; add one under remotes: in epack.yaml")
		}
		return nil, e.WithHint("configured remotes: %s", strings.Join(sortedKeys(c.Remotes), ", "))
	}
	r := base.Clone()
	if r.Name == "" {
		r.Name = name
	}
	if env == "" {
		if tc := r.foldTarget(); tc != nil {
			return nil, errcode.New(errcode.ConfigInvalid, "remote %q: %s", name, tc.msg).WithHint(targetConflictHint)
		}
		return r, nil
	}
	e := c.Environments[env]
	if e == nil {
		err := errcode.New(errcode.ConfigInvalid, "environment %q not found in config", env)
		if len(c.Environments) == 0 {
			return nil, err.WithHint("no environments are configured in epack.yaml")
		}
		envs := make([]string, 0, len(c.Environments))
		for k := range c.Environments {
			envs = append(envs, k)
		}
		sort.Strings(envs)
		return nil, err.WithHint("configured environments: %s", strings.Join(envs, ", "))
	}
	if ov := e.Remotes[name]; ov != nil {
		applyOverride(r, ov, e.present[name])
	}
	if tc := r.foldTarget(); tc != nil {
		return nil, errcode.New(errcode.ConfigInvalid, "environment %q remote %q: %s", env, name, tc.msg).WithHint(overrideTargetHint)
	}
	return r, nil
}

// applyOverride merges ov into r. present lists the keys written in the
// override (nil for a hand-built config: then a value counts when non-zero).
func applyOverride(r, ov *Remote, present map[string]bool) {
	has := func(key string, nonZero bool) bool {
		if present != nil {
			return present[key]
		}
		return nonZero
	}
	setStr := func(dst *string, v string) {
		if v = strings.TrimSpace(v); v != "" {
			*dst = v
		}
	}
	setStr(&r.Adapter, ov.Adapter)
	setStr(&r.Target.Workspace, ov.Target.Workspace)
	setStr(&r.Target.Environment, ov.Target.Environment)
	setStr(&r.InsecureEndpoint, firstNonEmpty(ov.InsecureEndpoint, ov.Endpoint))
	setStr(&r.Auth.Mode, ov.Auth.Mode)
	setStr(&r.Auth.Profile, ov.Auth.Profile)
	setStr(&r.Auth.InsecureEndpoint, firstNonEmpty(ov.Auth.InsecureEndpoint, ov.Auth.Endpoint))
	if len(ov.Release.Labels) > 0 {
		r.Release.Labels = append([]string(nil), ov.Release.Labels...)
	}
	if ov.Release.Notes != "" {
		r.Release.Notes = ov.Release.Notes
	}
	if ov.Runs.Sync != nil {
		v := *ov.Runs.Sync
		r.Runs.Sync = &v
	}
	if ov.Runs.RequireSuccess {
		r.Runs.RequireSuccess = true
	}
	// Extension of COMPAT §2.4.
	if len(ov.Runs.Paths) > 0 {
		r.Runs.Paths = append([]string(nil), ov.Runs.Paths...)
	}
	setStr(&r.Transport.FileRoot, ov.Transport.FileRoot)
	// Our extension: an environment may tighten or change the signer policy.
	if has("verify.strict", ov.Verify.Strict) {
		r.Verify.Strict = ov.Verify.Strict
	}
	if has("verify.signers", len(ov.Verify.Signers) > 0) {
		r.Verify.Signers = append([]VerifySigner(nil), ov.Verify.Signers...)
	}
	setStr(&r.Verify.TrustRoot, ov.Verify.TrustRoot)
	if has("transport.allow_loopback_http", ov.Transport.AllowLoopbackHTTP) {
		r.Transport.AllowLoopbackHTTP = ov.Transport.AllowLoopbackHTTP
	}
	if has("extensions", len(ov.Extensions) > 0) {
		r.Extensions = copyMap(ov.Extensions)
	}
}

func firstNonEmpty(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// Clone returns a deep copy of r.
func (r *Remote) Clone() *Remote {
	if r == nil {
		return nil
	}
	c := *r
	c.Auth.OIDC = copyMap(r.Auth.OIDC)
	c.Auth.APIKey = copyMap(r.Auth.APIKey)
	c.Verify.Pack = copyBool(r.Verify.Pack)
	c.Verify.Signers = append([]VerifySigner(nil), r.Verify.Signers...)
	c.Release.Labels = copyStrings(r.Release.Labels)
	if s := r.Release.Source; s != nil {
		ns := &ReleaseSource{}
		if s.Git != nil {
			g := *s.Git
			ns.Git = &g
		}
		if s.CI != nil {
			ci := *s.CI
			ns.CI = &ci
		}
		c.Release.Source = ns
	}
	c.Runs.Sync = copyBool(r.Runs.Sync)
	c.Runs.Paths = copyStrings(r.Runs.Paths)
	c.Extensions = copyMap(r.Extensions)
	c.Secrets = copyStrings(r.Secrets)
	c.Credentials = copyStrings(r.Credentials)
	return &c
}

func copyBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func copyStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return copyMap(t)
	case map[any]any:
		out := make(map[any]any, len(t))
		for k, x := range t {
			out[k] = copyValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = copyValue(x)
		}
		return out
	case []string:
		return copyStrings(t)
	}
	return v
}
