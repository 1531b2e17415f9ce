package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/yamlsafe"
	"gopkg.in/yaml.v3"
)

// Limits of COMPAT §1.13 for epack.yaml.
const (
	MaxConfigBytes = 1 << 20
	MaxRemotes     = 100
)

// Load reads and validates <root>/epack.yaml. The file is opened without
// following a symlink, must be at most 1 MiB and pass the YAML safety checks
// (aliases, depth) before anything is decoded; only the first YAML document
// is used. Top-level sections other than stream, remotes, environments,
// credential_sets and platforms are ignored; an unknown key inside a remote
// or an environment override is an error with its line. Remote names are set
// and relative binary / transport.file_root paths are made absolute against
// root. Errors are *errcode.Error (ConfigInvalid, SymlinkNotAllowed,
// ProjectNotFound when the file is missing).
func Load(root string) (*Config, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "invalid project root %q", root)
	}
	path := filepath.Join(abs, ConfigFileName)
	data, err := yamlsafe.ReadFile(path, MaxConfigBytes)
	if err != nil {
		return nil, fileError(errcode.ConfigInvalid, path, err)
	}
	return parseConfig(data, abs)
}

// fileError maps a yamlsafe.ReadFile error to a coded error.
func fileError(invalid errcode.Code, path string, err error) *errcode.Error {
	switch {
	case errors.Is(err, yamlsafe.ErrSymlink):
		return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to follow it", path).
			WithHint("replace the link with a regular file")
	case errors.Is(err, yamlsafe.ErrTooLarge):
		return errcode.Wrap(invalid, err, "%s is too large", filepath.Base(path))
	case errors.Is(err, yamlsafe.ErrNotRegular):
		return errcode.New(invalid, "%s is not a regular file", path)
	case errors.Is(err, fs.ErrNotExist):
		if invalid == errcode.ConfigInvalid {
			return errcode.Wrap(errcode.ProjectNotFound, err, "epack.yaml not found").
				WithHint("run 'epack init' to create one")
		}
		return errcode.Wrap(invalid, err, "%s not found", path)
	case errors.Is(err, fs.ErrPermission):
		return errcode.Wrap(errcode.PermissionDenied, err, "cannot read %s", path)
	}
	return errcode.Wrap(errcode.IOError, err, "cannot read %s", path)
}

// loader carries the state of one epack.yaml parse.
type loader struct {
	file  string         // name used in messages
	root  string         // absolute project root
	lines map[string]int // dotted key path → line of the key
}

// fail builds a ConfigInvalid error "epack.yaml:LINE: CTX: MSG".
func (ld *loader) fail(line int, ctx, format string, args ...any) *errcode.Error {
	msg := fmt.Sprintf(format, args...)
	if ctx != "" {
		msg = ctx + ": " + msg
	}
	loc := ld.file
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", ld.file, line)
	}
	return errcode.New(errcode.ConfigInvalid, "%s: %s", loc, msg)
}

// failNode turns a structural error (nodeError, yaml decode error) into a coded error.
func (ld *loader) failNode(err error, fallbackLine int, ctx, key string) *errcode.Error {
	line, msg := splitYAMLError(err)
	if line == 0 {
		line = fallbackLine
	}
	if key != "" {
		msg = key + ": " + msg
	}
	return ld.fail(line, ctx, "%s", msg)
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// splitYAMLError extracts the first "line N: message" of a yaml.v3 error.
func splitYAMLError(err error) (int, string) {
	var ne *nodeError
	if errors.As(err, &ne) {
		return ne.line, ne.msg
	}
	s := err.Error()
	if m := yamlLineRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, strings.TrimSpace(m[2])
	}
	return 0, strings.TrimPrefix(s, "yaml: ")
}

func (ld *loader) line(path string) int { return ld.lines[path] }

// parseConfig parses and validates epack.yaml bytes; root is the absolute project root.
func parseConfig(data []byte, root string) (*Config, error) {
	ld := &loader{file: ConfigFileName, root: root, lines: map[string]int{}}
	node, err := yamlsafe.Parse(data, yamlsafe.DefaultLimits)
	if err != nil {
		line, msg := splitYAMLError(err)
		if errors.Is(err, yamlsafe.ErrUnsafe) {
			return nil, ld.fail(line, "", "refusing unsafe YAML: %s", strings.TrimPrefix(msg, yamlsafe.ErrUnsafe.Error()+": "))
		}
		return nil, ld.fail(line, "", "invalid YAML: %s", msg)
	}
	cfg := &Config{}
	hasOther := false
	var remotesPair, envPair *pair
	if node != nil && !isNull(node) {
		if deref(node).Kind != yaml.MappingNode {
			return nil, ld.fail(node.Line, "", "the top level must be a mapping of sections (stream, remotes, …)")
		}
		ps, err := mappingPairs(node)
		if err != nil {
			return nil, ld.failNode(err, node.Line, "", "")
		}
		for i := range ps {
			p := &ps[i]
			ld.lines[p.key] = p.keyNode.Line
			var dst any
			switch p.key {
			case "stream":
				dst = &cfg.Stream
			case "platforms":
				dst = &cfg.Platforms
			case "credential_sets":
				dst = &cfg.CredentialSets
			case "remotes":
				remotesPair = p
			case "environments":
				envPair = p
			case "collectors", "tools":
				if v := deref(p.val); v != nil && (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && len(v.Content) > 0 {
					hasOther = true
				}
			}
			if dst != nil {
				if err := p.val.Decode(dst); err != nil {
					return nil, ld.failNode(err, p.keyNode.Line, "", p.key)
				}
			}
		}
	}
	if remotesPair != nil {
		if err := ld.decodeRemotes(cfg, remotesPair); err != nil {
			return nil, err
		}
	}
	if envPair != nil {
		if err := ld.decodeEnvironments(cfg, envPair); err != nil {
			return nil, err
		}
	}
	if err := ld.validate(cfg, hasOther); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (ld *loader) decodeRemotes(cfg *Config, rp *pair) error {
	if isNull(rp.val) {
		return nil
	}
	if deref(rp.val).Kind != yaml.MappingNode {
		return ld.fail(rp.keyNode.Line, "", "remotes must be a mapping of remote names to remote settings")
	}
	ps, err := mappingPairs(rp.val)
	if err != nil {
		return ld.failNode(err, rp.keyNode.Line, "", "remotes")
	}
	if len(ps) > MaxRemotes {
		return ld.fail(rp.keyNode.Line, "", "remotes: %d remotes configured, at most %d are allowed", len(ps), MaxRemotes)
	}
	cfg.Remotes = make(map[string]*Remote, len(ps))
	for _, p := range ps {
		path := "remotes." + p.key
		ld.lines[path] = p.keyNode.Line
		if err := CheckName(p.key); err != nil {
			return ld.fail(p.keyNode.Line, "remotes", "invalid remote name: %v", err).WithHint(nameHint)
		}
		ctx := fmt.Sprintf("remote %q", p.key)
		r, err := ld.decodeRemote(p, path, ctx, false, nil)
		if err != nil {
			return err
		}
		r.Name = p.key
		cfg.Remotes[p.key] = r
	}
	return nil
}

func (ld *loader) decodeEnvironments(cfg *Config, ep *pair) error {
	if isNull(ep.val) {
		return nil
	}
	if deref(ep.val).Kind != yaml.MappingNode {
		return ld.fail(ep.keyNode.Line, "", "environments must be a mapping of environment names to settings")
	}
	envs, err := mappingPairs(ep.val)
	if err != nil {
		return ld.failNode(err, ep.keyNode.Line, "", "environments")
	}
	cfg.Environments = make(map[string]*Environment, len(envs))
	for _, e := range envs {
		if err := CheckName(e.key); err != nil {
			return ld.fail(e.keyNode.Line, "environments", "invalid environment name: %v", err).WithHint(nameHint)
		}
		env := &Environment{}
		cfg.Environments[e.key] = env
		ectx := fmt.Sprintf("environment %q", e.key)
		if isNull(e.val) {
			continue
		}
		if deref(e.val).Kind != yaml.MappingNode {
			return ld.fail(e.keyNode.Line, ectx, "must be a mapping")
		}
		eps, err := mappingPairs(e.val)
		if err != nil {
			return ld.failNode(err, e.keyNode.Line, ectx, "")
		}
		for _, sec := range eps {
			if sec.key != "remotes" || isNull(sec.val) {
				continue // other per-environment sections belong to other tools
			}
			if deref(sec.val).Kind != yaml.MappingNode {
				return ld.fail(sec.keyNode.Line, ectx, "remotes must be a mapping of remote names to overrides")
			}
			rps, err := mappingPairs(sec.val)
			if err != nil {
				return ld.failNode(err, sec.keyNode.Line, ectx, "remotes")
			}
			env.Remotes = make(map[string]*Remote, len(rps))
			env.present = make(map[string]map[string]bool, len(rps))
			for _, rp := range rps {
				if err := CheckName(rp.key); err != nil {
					return ld.fail(rp.keyNode.Line, ectx, "invalid remote name: %v", err).WithHint(nameHint)
				}
				if _, ok := cfg.Remotes[rp.key]; !ok {
					return ld.fail(rp.keyNode.Line, ectx, "remotes: %q is not defined under the top-level remotes section", rp.key).
						WithHint("configured remotes: %s", remoteList(cfg))
				}
				path := "environments." + e.key + ".remotes." + rp.key
				ld.lines[path] = rp.keyNode.Line
				set := map[string]bool{}
				ov, err := ld.decodeRemote(rp, path, fmt.Sprintf("environment %q remote %q", e.key, rp.key), true, set)
				if err != nil {
					return err
				}
				ov.Name = rp.key
				env.Remotes[rp.key] = ov
				env.present[rp.key] = set
			}
		}
	}
	return nil
}

// decodeRemote checks every key of a remote (or override) mapping against the
// Remote schema and decodes it.
func (ld *loader) decodeRemote(p pair, path, ctx string, override bool, set map[string]bool) (*Remote, error) {
	r := &Remote{}
	if isNull(p.val) {
		return r, nil
	}
	if deref(p.val).Kind != yaml.MappingNode {
		return nil, ld.fail(p.keyNode.Line, ctx, "must be a mapping of settings")
	}
	if set == nil {
		set = map[string]bool{}
	}
	if err := ld.checkStruct(p.val, reflect.TypeOf(Remote{}), path, "", ctx, override, set); err != nil {
		return nil, err
	}
	if err := p.val.Decode(r); err != nil {
		return nil, ld.failNode(err, p.keyNode.Line, ctx, "")
	}
	return r, nil
}

var durationType = reflect.TypeOf(Duration(0))

// overridable lists the keys an environment override may set: COMPAT §2.4
// plus our extension (transport, runs.paths, extensions).
var overridable = map[string]bool{
	"adapter": true, "insecure_endpoint": true, "endpoint": true,
	"target": true, "target.workspace": true, "target.environment": true,
	"auth": true, "auth.mode": true, "auth.profile": true, "auth.insecure_endpoint": true, "auth.endpoint": true,
	"release": true, "release.labels": true, "release.notes": true,
	"runs": true, "runs.sync": true, "runs.require_success": true, "runs.paths": true,
	"transport": true, "transport.file_root": true, "transport.allow_loopback_http": true,
	"extensions": true,
	"verify":     true, "verify.strict": true, "verify.signers": true, "verify.trust_root": true,
}

func overridableList() string {
	var out []string
	for k := range overridable {
		switch k {
		case "target", "auth", "release", "runs", "transport", "verify":
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// yamlKeys maps the yaml tag names of struct type t to their fields.
func yamlKeys(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkStruct verifies mapping n against struct type t: every key must be a
// field, nested structs are checked recursively and every leaf is decoded on
// its own so a type error names its key. section is the key path inside the
// remote ("" at the remote itself), path the dotted path from the file root.
func (ld *loader) checkStruct(n *yaml.Node, t reflect.Type, path, section, ctx string, override bool, set map[string]bool) error {
	ps, err := mappingPairs(n)
	if err != nil {
		return ld.failNode(err, n.Line, ctx, section)
	}
	fields := yamlKeys(t)
	for _, p := range ps {
		rel := p.key
		if section != "" {
			rel = section + "." + p.key
		}
		f, ok := fields[p.key]
		if !ok {
			where := ""
			if section != "" {
				where = " in " + section
			}
			known := sortedKeys(fields)
			msg := fmt.Sprintf("unknown key %q%s", p.key, where)
			if s := suggestKey(p.key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			e := ld.fail(p.keyNode.Line, ctx, "%s", msg)
			if section == "" || section == "target" {
				e.WithHint("valid keys%s: %s; adapter-specific settings (region, endpoint, …) belong under extensions:", where, strings.Join(known, ", "))
			} else {
				e.WithHint("valid keys%s: %s", where, strings.Join(known, ", "))
			}
			return e
		}
		ld.lines[path+"."+p.key] = p.keyNode.Line
		set[rel] = true
		if override && !overridable[rel] {
			e := ld.fail(p.keyNode.Line, ctx, "%q cannot be set in an environment override (it always comes from the base remote)", rel)
			if rel == "target.dir" || rel == "target.bucket" {
				return e.WithHint(overrideTargetHint)
			}
			return e.WithHint("environment overrides may set: %s", overridableList())
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != durationType {
			if isNull(p.val) {
				continue
			}
			if deref(p.val).Kind != yaml.MappingNode {
				return ld.fail(p.keyNode.Line, ctx, "%s must be a mapping", rel)
			}
			if err := ld.checkStruct(p.val, ft, path+"."+p.key, rel, ctx, override, set); err != nil {
				return err
			}
			continue
		}
		v := reflect.New(f.Type)
		if err := p.val.Decode(v.Interface()); err != nil {
			return ld.failNode(err, p.keyNode.Line, ctx, rel)
		}
	}
	return nil
}

func remoteList(c *Config) string {
	if len(c.Remotes) == 0 {
		return "(none)"
	}
	return strings.Join(sortedKeys(c.Remotes), ", ")
}
