package remote

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/protocol"
)

// envAllowlist are the parent variables an adapter may see (COMPAT §4.4),
// compared case-insensitively.
var envAllowlist = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`HOME USER LANG LC_ALL LC_CTYPE TZ TMPDIR TEMP TMP TERM
		NO_COLOR CLICOLOR CLICOLOR_FORCE SSL_CERT_FILE SSL_CERT_DIR HTTP_PROXY HTTPS_PROXY
		NO_PROXY XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_RUNTIME_DIR`) {
		envAllowlist[n] = true
	}
}

var proxyVars = map[string]bool{"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true}

// stripProxyCredentials removes user[:pass]@ from a proxy URL. Values that
// are not URLs (host or host:port) are returned unchanged.
func stripProxyCredentials(v string) string {
	if !strings.Contains(v, "://") {
		if at := strings.LastIndexByte(v, '@'); at >= 0 && !strings.ContainsAny(v[:at], "/") {
			return v[at+1:]
		}
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		// Unparseable: drop anything up to the last '@' of the authority.
		scheme, rest, _ := strings.Cut(v, "://")
		auth := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			auth = rest[:i]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			return scheme + "://" + rest[at+1:]
		}
		return v
	}
	if u.User == nil {
		return v
	}
	u.User = nil
	return u.String()
}

// endpointEnv checks the custom endpoints of r and returns them as the
// adapter variables that carry them (none set: an empty map).
func endpointEnv(r *config.Remote) (map[string]string, error) {
	eps, err := r.CheckedEndpoints()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if eps.API != "" {
		out[protocol.EnvEndpoint] = eps.API
	}
	if eps.Auth != "" {
		out[protocol.EnvAuthEndpoint] = eps.Auth
	}
	return out, nil
}

// envSpec is everything the adapter environment is built from.
type envSpec struct {
	parent    []string // os.Environ()
	root      string   // project root (relative file_root resolves against it)
	remote    *config.Remote
	endpoints map[string]string
	full      bool // false for --capabilities: no secrets, no endpoints
}

// buildEnv builds the adapter environment from scratch and returns it with
// the secret values that must be redacted from the adapter's stderr.
func buildEnv(s envSpec) (env []string, secretValues []string) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	lookup := map[string]string{}
	pathSet := false
	for _, kv := range s.parent {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, seen := lookup[k]; !seen {
			lookup[k] = v
		}
		up := strings.ToUpper(k)
		if up == "PATH" {
			if !pathSet {
				set(k, v)
				pathSet = true
			}
			continue
		}
		if envAllowlist[up] {
			if proxyVars[up] {
				v = stripProxyCredentials(v)
			}
			set(k, v)
		}
	}
	set(protocol.EnvProtocolVersion, strconv.Itoa(protocol.ProtocolVersion))
	r := s.remote
	if r != nil {
		set(protocol.EnvRemoteName, r.Name)
		// transport.file_root, else target.dir (config.Remote.FileRoot).
		if fr := r.FileRoot(); fr != "" {
			if !filepath.IsAbs(fr) && s.root != "" {
				fr = filepath.Join(s.root, fr)
			}
			if abs, err := filepath.Abs(fr); err == nil {
				set(protocol.EnvFileRoot, abs)
			}
		}
		// extensions, plus target.bucket as "bucket" when extensions has
		// none (config.Remote.AdapterConfig).
		cfg := []byte("{}")
		if ac := r.AdapterConfig(); len(ac) > 0 {
			if b, err := json.Marshal(jsonable(ac)); err == nil {
				cfg = b
			}
		}
		set(protocol.EnvRemoteConfig, string(cfg))
	}
	if s.full && r != nil {
		keys := make([]string, 0, len(s.endpoints))
		for k := range s.endpoints {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s.endpoints[k] != "" {
				set(k, s.endpoints[k])
			}
		}
		for _, name := range r.Secrets {
			if reservedSecret(name) {
				continue
			}
			v, ok := lookup[name]
			if !ok || v == "" {
				continue
			}
			set(name, v)
			secretValues = append(secretValues, v)
		}
	}
	env = make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env, secretValues
}

// reservedSecret reports names that are never passed as secrets.
func reservedSecret(name string) bool {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return true
	}
	up := strings.ToUpper(name)
	for _, p := range []string{"EPACK_", "LD_", "DYLD_", "_"} {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// jsonable converts YAML-decoded values (map[any]any from some decoders)
// into something encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = jsonable(x)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			ks, ok := k.(string)
			if !ok {
				b, _ := json.Marshal(k)
				ks = string(b)
			}
			m[ks] = jsonable(x)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonable(x)
		}
		return out
	}
	return v
}

// parentEnv is os.Environ, replaceable in tests.
var parentEnv = os.Environ
