package ocistore

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/evidencerelay/epack/protocol"
)

// Config is the OCI registry's configuration: the remote's extensions map
// from epack.yaml, passed by the host as EPACK_REMOTE_CONFIG.
type Config struct {
	// Registry is the registry's host[:port] ("ghcr.io", "127.0.0.1:5000").
	Registry string
	// Namespace is the repository path below the registry that holds the
	// streams ("acme/evidence"; "" = none). It may contain {workspace} and
	// {environment}, replaced by the target's (lower-cased; "default" when
	// empty), so environments of one remote get repositories of their own.
	Namespace string
	// CAFile is a PEM file of certificates trusted for the registry in
	// addition to the system's (a private CA, a self-signed registry).
	CAFile string
	// PlainHTTP speaks http instead of https; allowed for a loopback
	// registry (localhost, 127.0.0.1, ::1) only.
	PlainHTTP bool
	// Direct lets the host move bytes straight to and from the registry
	// when that needs no credential (see the package comment). It defaults
	// to true, and to false with CAFile or PlainHTTP: the host would not
	// trust that certificate, nor send to http without transport settings.
	Direct bool
}

// Setting keys of EPACK_REMOTE_CONFIG.
var configKeys = []string{"registry", "namespace", "ca_file", "plain_http", "direct_transfers"}

// ParseConfig reads EPACK_REMOTE_CONFIG: registry (required; host[:port],
// an https:// or http:// prefix is accepted, http meaning plain_http),
// namespace, ca_file, plain_http and direct_transfers (booleans, or
// "true"/"false"). Unknown keys are reported in the warnings, not refused.
func ParseConfig(raw string) (Config, []string, error) {
	var c Config
	if strings.TrimSpace(raw) == "" {
		raw = "{}"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return c, nil, bad("EPACK_REMOTE_CONFIG is not a JSON object: %v", err)
	}
	str := func(k string) (string, error) {
		switch v := m[k].(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		}
		return "", bad("extensions.%s must be a string", k)
	}
	boolean := func(k string) (*bool, error) {
		switch v := m[k].(type) {
		case nil:
			return nil, nil
		case bool:
			return &v, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, bad("extensions.%s %q is not a boolean", k, v)
			}
			return &b, nil
		}
		return nil, bad("extensions.%s must be a boolean", k)
	}
	var err error
	if c.Registry, err = str("registry"); err != nil {
		return c, nil, err
	}
	if c.Namespace, err = str("namespace"); err != nil {
		return c, nil, err
	}
	if c.CAFile, err = str("ca_file"); err != nil {
		return c, nil, err
	}
	plain, err := boolean("plain_http")
	if err != nil {
		return c, nil, err
	}
	direct, err := boolean("direct_transfers")
	if err != nil {
		return c, nil, err
	}
	if plain != nil {
		c.PlainHTTP = *plain
	}
	switch {
	case strings.HasPrefix(c.Registry, "https://"):
		c.Registry = strings.TrimPrefix(c.Registry, "https://")
		if c.PlainHTTP {
			return c, nil, bad("extensions.registry says https:// but plain_http is true")
		}
	case strings.HasPrefix(c.Registry, "http://"):
		c.Registry = strings.TrimPrefix(c.Registry, "http://")
		if plain != nil && !*plain {
			return c, nil, bad("extensions.registry says http:// but plain_http is false")
		}
		c.PlainHTTP = true
	}
	c.Registry = strings.TrimSuffix(c.Registry, "/")
	c.Direct = c.CAFile == "" && !c.PlainHTTP
	if direct != nil {
		c.Direct = *direct
	}
	var warnings []string
	for k := range m {
		known := false
		for _, ck := range configKeys {
			known = known || k == ck
		}
		if !known {
			warnings = append(warnings, fmt.Sprintf("unknown OCI registry setting %q ignored (known: %s)", k, strings.Join(configKeys, ", ")))
		}
	}
	return c, warnings, c.normalize()
}

// normalize checks a Config (ParseConfig's or a caller's).
func (c *Config) normalize() error {
	if c.Registry == "" {
		return bad("the OCI registry needs extensions.registry in the remote's epack.yaml entry (host[:port], e.g. ghcr.io)")
	}
	host := c.Registry
	if strings.ContainsAny(host, "/@?#\\ \t") {
		return bad("extensions.registry %q must be a host[:port] (e.g. ghcr.io or 127.0.0.1:5000), without path or credentials", c.Registry)
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, ""
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			return bad("extensions.registry %q is not a host[:port]", c.Registry)
		}
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if name == "" || !validHost(name) {
		return bad("extensions.registry %q is not a host[:port]", c.Registry)
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return bad("extensions.registry %q has a bad port", c.Registry)
		}
	}
	if c.PlainHTTP && !loopbackHost(name) {
		return bad("plain_http is allowed only for a registry on localhost, 127.0.0.1 or ::1 (got %q); use https", c.Registry)
	}
	c.Namespace = strings.Trim(c.Namespace, "/")
	if c.Namespace != "" {
		// The template must be valid once filled in.
		probe := strings.NewReplacer("{workspace}", "w", "{environment}", "e").Replace(c.Namespace)
		for _, seg := range strings.Split(probe, "/") {
			if !validComponent(seg) {
				return bad("extensions.namespace %q is not a repository path: each '/'-separated part must be lowercase letters and digits, joined by '.', '_', '__' or '-' (placeholders {workspace} and {environment} allowed)", c.Namespace)
			}
		}
	}
	return nil
}

func validHost(h string) bool {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return false
		}
	}
	return true
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Location is where the configured registry is, for messages and whoami:
// <registry>[/<namespace>].
func (c Config) Location() string {
	if c.Namespace == "" {
		return c.Registry
	}
	return c.Registry + "/" + c.Namespace
}

func bad(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeInvalidRequest, format, args...)
}
