package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

var platformPattern = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+$`)

// validate applies COMPAT §2.3 (and our additions) to a decoded config and
// normalises it: endpoints folded, paths made absolute.
func (ld *loader) validate(c *Config, hasOther bool) error {
	c.CredentialSets = stringKeys(c.CredentialSets)
	for _, name := range sortedKeys(c.CredentialSets) {
		if err := CheckName(name); err != nil {
			return ld.fail(ld.line("credential_sets"), "credential_sets", "invalid credential set name: %v", err).WithHint(nameHint)
		}
	}
	for i, p := range c.Platforms {
		if !platformPattern.MatchString(p) {
			return ld.fail(ld.line("platforms"), "", "platforms[%d]: %q is not a \"<goos>/<goarch>\" key such as \"linux/amd64\"", i, p)
		}
	}
	if len(c.Remotes) == 0 && !hasOther {
		return ld.fail(0, "", "no remotes, collectors or tools are configured").
			WithHint("add a remote under remotes: (run 'epack init' for a starter file)")
	}
	for _, name := range sortedKeys(c.Remotes) {
		if err := ld.validateRemote(c, name, c.Remotes[name]); err != nil {
			return err
		}
	}
	for _, en := range sortedKeys(c.Environments) {
		env := c.Environments[en]
		for _, rn := range sortedKeys(env.Remotes) {
			if err := ld.validateOverride(en, rn, env.Remotes[rn]); err != nil {
				return err
			}
		}
	}
	return ld.validateOverrideTargets(c)
}

func (ld *loader) validateRemote(c *Config, name string, r *Remote) error {
	path := "remotes." + name
	ctx := fmt.Sprintf("remote %q", name)
	at := func(key string) int {
		if l := ld.line(path + "." + key); l > 0 {
			return l
		}
		return ld.line(path)
	}
	r.Source = strings.TrimSpace(r.Source)
	r.Binary = strings.TrimSpace(r.Binary)
	r.Adapter = strings.TrimSpace(r.Adapter)
	if r.Adapter != "" {
		if err := CheckName(r.Adapter); err != nil {
			return ld.fail(at("adapter"), ctx, "adapter: invalid adapter name: %v", err).WithHint(nameHint)
		}
	}
	if r.Source != "" && r.Binary != "" {
		return ld.fail(at("binary"), ctx, "source and binary cannot both be set").
			WithHint("use source: for a managed adapter or binary: for a local one, not both")
	}
	if r.Source == "" && r.Binary == "" && r.Adapter == "" {
		return ld.fail(ld.line(path), ctx, "adapter is required when neither source nor binary is set").
			WithHint("add adapter: <name> (the adapter epack-remote-<name>), source: or binary:")
	}
	if err := foldEndpoint(&r.Endpoint, &r.InsecureEndpoint); err != nil {
		return ld.fail(at("endpoint"), ctx, "endpoint and insecure_endpoint cannot both be set with different values").
			WithHint("remove the legacy endpoint: key and keep insecure_endpoint:")
	}
	if err := foldEndpoint(&r.Auth.Endpoint, &r.Auth.InsecureEndpoint); err != nil {
		return ld.fail(at("auth.endpoint"), ctx, "auth.endpoint and auth.insecure_endpoint cannot both be set with different values").
			WithHint("remove the legacy auth.endpoint: key and keep auth.insecure_endpoint:")
	}
	var bad []string
	for _, s := range r.Secrets {
		if err := CheckSecretName(s); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return ld.fail(at("secrets"), ctx, "secrets: %s", strings.Join(bad, "; ")).
			WithHint("names starting with EPACK_, LD_, DYLD_ or _ are reserved")
	}
	for _, ref := range r.Credentials {
		if _, ok := c.CredentialSets[ref]; !ok {
			e := ld.fail(at("credentials"), ctx, "credentials: %q is not declared in credential_sets", ref)
			if len(c.CredentialSets) == 0 {
				return e.WithHint("declare it under the top-level credential_sets: section")
			}
			return e.WithHint("declared credential sets: %s", strings.Join(sortedKeys(c.CredentialSets), ", "))
		}
	}
	if len(r.Credentials) > 0 {
		for _, s := range r.Secrets {
			if strings.HasPrefix(strings.ToUpper(s), oidcRequestPrefix) {
				return ld.fail(at("secrets"), ctx, "secrets: %q cannot be passed while credentials are used", s).
					WithHint("the credential set provides the OIDC token; remove %s from secrets", s)
			}
		}
	}
	if _, ok := ld.lines[path+".timeout"]; ok || r.Timeout != 0 {
		switch {
		case r.Timeout <= 0:
			return ld.fail(at("timeout"), ctx, "timeout: must be a positive duration such as \"90s\"").WithHint("remove timeout: to use the default")
		case r.Timeout.Std() > MaxRemoteTimeout:
			return ld.fail(at("timeout"), ctx, "timeout: %s is longer than the maximum of %s", r.Timeout, MaxRemoteTimeout).WithHint("use a timeout of at most 1h")
		}
	}
	for i, p := range r.Runs.Paths {
		if strings.TrimSpace(p) == "" {
			return ld.fail(at("runs.paths"), ctx, "runs.paths[%d] is empty", i)
		}
	}
	r.Binary = ld.abs(r.Binary)
	for _, p := range []struct {
		key string
		val *string
	}{{"transport.file_root", &r.Transport.FileRoot}, {"target.dir", &r.Target.Dir}} {
		if strings.ContainsRune(*p.val, 0) {
			return ld.fail(at(p.key), ctx, "%s contains a NUL byte", p.key).WithHint("write the folder as a plain path, relative to the project root")
		}
		*p.val = ld.abs(strings.TrimSpace(*p.val))
	}
	r.Target.Bucket = strings.TrimSpace(r.Target.Bucket)
	if err := ld.validateVerify(&r.Verify, at, ctx); err != nil {
		return err
	}
	normalizeMaps(r)
	if tc := r.foldTarget(); tc != nil {
		return ld.fail(at(tc.key), ctx, "%s", tc.msg).WithHint(targetConflictHint)
	}
	return nil
}

// normalizeMaps gives every free-form map string keys at every depth, so
// callers can hand them to encoding/json (EPACK_REMOTE_CONFIG).
func normalizeMaps(r *Remote) {
	r.Extensions = stringKeys(r.Extensions)
	r.Auth.OIDC = stringKeys(r.Auth.OIDC)
	r.Auth.APIKey = stringKeys(r.Auth.APIKey)
}

func stringKeys(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = stringKeysValue(v)
	}
	return out
}

func stringKeysValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return stringKeys(t)
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = stringKeysValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = stringKeysValue(x)
		}
		return out
	}
	return v
}

func (ld *loader) validateOverride(env, name string, r *Remote) error {
	path := "environments." + env + ".remotes." + name
	ctx := fmt.Sprintf("environment %q remote %q", env, name)
	at := func(key string) int {
		if l := ld.line(path + "." + key); l > 0 {
			return l
		}
		return ld.line(path)
	}
	r.Adapter = strings.TrimSpace(r.Adapter)
	if r.Adapter != "" {
		if err := CheckName(r.Adapter); err != nil {
			return ld.fail(at("adapter"), ctx, "adapter: invalid adapter name: %v", err).WithHint(nameHint)
		}
	}
	if err := foldEndpoint(&r.Endpoint, &r.InsecureEndpoint); err != nil {
		return ld.fail(at("endpoint"), ctx, "endpoint and insecure_endpoint cannot both be set with different values").
			WithHint("remove the legacy endpoint: key and keep insecure_endpoint:")
	}
	if err := foldEndpoint(&r.Auth.Endpoint, &r.Auth.InsecureEndpoint); err != nil {
		return ld.fail(at("auth.endpoint"), ctx, "auth.endpoint and auth.insecure_endpoint cannot both be set with different values").
			WithHint("remove the legacy auth.endpoint: key and keep auth.insecure_endpoint:")
	}
	for i, p := range r.Runs.Paths {
		if strings.TrimSpace(p) == "" {
			return ld.fail(at("runs.paths"), ctx, "runs.paths[%d] is empty", i)
		}
	}
	if err := ld.validateVerify(&r.Verify, at, ctx); err != nil {
		return err
	}
	if strings.ContainsRune(r.Transport.FileRoot, 0) {
		return ld.fail(at("transport.file_root"), ctx, "transport.file_root contains a NUL byte").WithHint("write the folder as a plain path, relative to the project root")
	}
	r.Transport.FileRoot = ld.abs(strings.TrimSpace(r.Transport.FileRoot))
	normalizeMaps(r)
	return nil
}

// validateVerify checks verify.signers (each a key or a complete identity,
// regular expressions that compile) and makes key and trust_root paths
// absolute against the project root.
func (ld *loader) validateVerify(v *RemoteVerify, at func(string) int, ctx string) error {
	for i := range v.Signers {
		s := &v.Signers[i]
		s.Key = strings.TrimSpace(s.Key)
		id := s.Issuer != "" || s.IssuerRegexp != "" || s.Subject != "" || s.SubjectRegexp != ""
		where := fmt.Sprintf("verify.signers[%d]", i)
		switch {
		case s.Key != "" && id:
			return ld.fail(at("verify.signers"), ctx, "%s names both a key and an identity", where).
				WithHint("write one signer per entry: either key: <public.pem> or issuer: and subject:")
		case s.Key == "" && !id:
			return ld.fail(at("verify.signers"), ctx, "%s is empty", where).
				WithHint("give key: <public.pem>, or issuer: and subject: (or subject_regexp:)")
		case id && s.Issuer == "" && s.IssuerRegexp == "":
			return ld.fail(at("verify.signers"), ctx, "%s names no issuer", where).
				WithHint("add issuer: (e.g. https://token.actions.githubusercontent.com) or issuer_regexp:")
		case id && s.Subject == "" && s.SubjectRegexp == "":
			return ld.fail(at("verify.signers"), ctx, "%s names no subject", where).
				WithHint("add subject: or subject_regexp: (anchor it with ^ and $)")
		}
		for _, re := range []struct{ key, val string }{{"issuer_regexp", s.IssuerRegexp}, {"subject_regexp", s.SubjectRegexp}} {
			if re.val == "" {
				continue
			}
			if _, err := regexp.Compile(re.val); err != nil {
				return ld.fail(at("verify.signers"), ctx, "%s.%s: %v", where, re.key, err)
			}
		}
		s.Key = ld.abs(s.Key)
	}
	v.TrustRoot = ld.abs(strings.TrimSpace(v.TrustRoot))
	return nil
}

// abs makes a relative path absolute against the project root and cleans it.
func (ld *loader) abs(p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(ld.root, p)
	}
	return filepath.Clean(p)
}

// foldEndpoint moves the legacy value into insecure (both trimmed); both set
// and different is an error.
func foldEndpoint(legacy, insecure *string) error {
	l, i := strings.TrimSpace(*legacy), strings.TrimSpace(*insecure)
	if l != "" && i != "" && l != i {
		return fmt.Errorf("endpoint and insecure_endpoint cannot both be set with different values")
	}
	if i == "" {
		i = l
	}
	*legacy, *insecure = "", i
	return nil
}
