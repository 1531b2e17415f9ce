package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Project is a loaded epack project: its root folder and its epack.yaml.
type Project struct {
	// Root is the absolute project root (the folder holding epack.yaml).
	Root string
	// ConfigPath is the absolute path of epack.yaml.
	ConfigPath string
	Config     *Config
}

// Config is the part of epack.yaml this tool uses. Other top-level sections
// of the existing tool (collectors, tools, …) are accepted and ignored.
type Config struct {
	Stream         string                  `yaml:"stream"`
	Remotes        map[string]*Remote      `yaml:"remotes"`
	Environments   map[string]*Environment `yaml:"environments"`
	CredentialSets map[string]any          `yaml:"credential_sets"`
	// Platforms lists "<goos>/<goarch>" keys `epack lock` pins (default: current).
	Platforms []string `yaml:"platforms"`
}

// Environment is environments.<env>: per-remote overrides.
type Environment struct {
	Remotes map[string]*Remote `yaml:"remotes"`

	// present records, per remote, which override keys were written in
	// epack.yaml ("transport.allow_loopback_http", "extensions", …), so a
	// false or empty value that was set explicitly still overrides.
	present map[string]map[string]bool
}

// Remote is remotes.<name> (COMPAT §2.2). Relative Binary and
// Transport.FileRoot are made absolute against the project root at load time.
type Remote struct {
	Name             string          `yaml:"-"`
	Source           string          `yaml:"source,omitempty"`
	Binary           string          `yaml:"binary,omitempty"`
	Adapter          string          `yaml:"adapter,omitempty"`
	InsecureEndpoint string          `yaml:"insecure_endpoint,omitempty"`
	Endpoint         string          `yaml:"endpoint,omitempty"` // legacy alias, folded into InsecureEndpoint
	Auth             RemoteAuth      `yaml:"auth,omitempty"`
	Target           RemoteTarget    `yaml:"target,omitempty"`
	Verify           RemoteVerify    `yaml:"verify,omitempty"`
	Release          RemoteRelease   `yaml:"release,omitempty"`
	Runs             RemoteRuns      `yaml:"runs,omitempty"`
	Transport        RemoteTransport `yaml:"transport,omitempty"`
	Extensions       map[string]any  `yaml:"extensions,omitempty"`
	Secrets          []string        `yaml:"secrets,omitempty"`
	Credentials      []string        `yaml:"credentials,omitempty"`
	// Timeout overrides the per-command adapter timeout (our extension), e.g. "90s".
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Duration is a time.Duration written in YAML as a Go duration string.
type Duration time.Duration

// RemoteAuth is remotes.<name>.auth.
type RemoteAuth struct {
	Mode             string         `yaml:"mode,omitempty"`
	Profile          string         `yaml:"profile,omitempty"`
	InsecureEndpoint string         `yaml:"insecure_endpoint,omitempty"`
	Endpoint         string         `yaml:"endpoint,omitempty"`
	OIDC             map[string]any `yaml:"oidc,omitempty"`
	APIKey           map[string]any `yaml:"api_key,omitempty"`
}

// RemoteTarget is remotes.<name>.target. Workspace and Environment go to
// the adapter in every request. Dir and Bucket are the spellings of the
// existing tool's example configuration (which never passes them on); here
// they name our adapters' registry: see Remote.FileRoot and
// Remote.AdapterConfig.
type RemoteTarget struct {
	Workspace   string `yaml:"workspace,omitempty"`
	Environment string `yaml:"environment,omitempty"`
	// Dir is the filesystem registry's folder (relative to the project
	// root; absolute after Load). It is also the remote's file_root.
	Dir string `yaml:"dir,omitempty"`
	// Bucket is the S3 registry's bucket, passed as extensions.bucket.
	Bucket string `yaml:"bucket,omitempty"`
}

// RemoteVerify is remotes.<name>.verify: the signer policy push and pull
// enforce for this remote. With Signers set, a pack must carry a signature
// by one of them; Strict refuses a pack that does not (otherwise a warning).
// Pack is the existing tool's switch, kept for compatibility.
type RemoteVerify struct {
	Pack    *bool          `yaml:"pack,omitempty"`
	Strict  bool           `yaml:"strict,omitempty"`
	Signers []VerifySigner `yaml:"signers,omitempty"`
	// TrustRoot is a Sigstore trusted_root.json for keyless signers
	// (absolute after Load); empty means Sigstore's public-good root.
	TrustRoot string `yaml:"trust_root,omitempty"`
}

// VerifySigner is one entry of verify.signers: a public key file (absolute
// after Load) or a keyless identity (issuer and subject, each exact or a
// regular expression).
type VerifySigner struct {
	Key           string `yaml:"key,omitempty"`
	Issuer        string `yaml:"issuer,omitempty"`
	IssuerRegexp  string `yaml:"issuer_regexp,omitempty"`
	Subject       string `yaml:"subject,omitempty"`
	SubjectRegexp string `yaml:"subject_regexp,omitempty"`
}

// RemoteRelease is remotes.<name>.release.
type RemoteRelease struct {
	Labels []string       `yaml:"labels,omitempty"`
	Notes  string         `yaml:"notes,omitempty"`
	Source *ReleaseSource `yaml:"source,omitempty"`
}

// ReleaseSource is remotes.<name>.release.source; its presence turns on build context.
type ReleaseSource struct {
	Git *GitSource `yaml:"git,omitempty"`
	CI  *CISource  `yaml:"ci,omitempty"`
}

// GitSource names the env var holding the commit SHA.
type GitSource struct {
	ShaEnv  string `yaml:"sha_env,omitempty"`
	RepoEnv string `yaml:"repo_env,omitempty"`
}

// CISource names the env var holding the CI run URL.
type CISource struct {
	RunURLEnv string `yaml:"run_url_env,omitempty"`
}

// RemoteRuns is remotes.<name>.runs.
type RemoteRuns struct {
	Sync           *bool    `yaml:"sync,omitempty"` // nil means true
	Paths          []string `yaml:"paths,omitempty"`
	RequireSuccess bool     `yaml:"require_success,omitempty"`
}

// RemoteTransport is remotes.<name>.transport.
type RemoteTransport struct {
	FileRoot          string `yaml:"file_root,omitempty"`
	AllowLoopbackHTTP bool   `yaml:"allow_loopback_http,omitempty"`
}

// LockFile is epack.lock.yaml. Only the remotes section is modelled; other
// sections are preserved verbatim when the file is written back.
type LockFile struct {
	SchemaVersion int                      `yaml:"schema_version"`
	Remotes       map[string]*LockedRemote `yaml:"remotes,omitempty"`
}

// Lock entry kinds.
const KindExternal = "external"

// LockedRemote is epack.lock.yaml remotes.<name> (COMPAT §3).
type LockedRemote struct {
	Kind         string                    `yaml:"kind,omitempty"`
	Source       string                    `yaml:"source,omitempty"`
	Version      string                    `yaml:"version,omitempty"`
	Commit       string                    `yaml:"commit,omitempty"`
	Signer       *LockSigner               `yaml:"signer,omitempty"`
	ResolvedFrom *LockResolvedFrom         `yaml:"resolved_from,omitempty"`
	Verification *LockVerification         `yaml:"verification,omitempty"`
	LockedAt     string                    `yaml:"locked_at,omitempty"`
	Platforms    map[string]LockedPlatform `yaml:"platforms,omitempty"`
}

// LockSigner is the Sigstore identity that signed a source adapter.
type LockSigner struct {
	Issuer              string `yaml:"issuer,omitempty"`
	Subject             string `yaml:"subject,omitempty"`
	SourceRepositoryURI string `yaml:"source_repository_uri,omitempty"`
	SourceRepositoryRef string `yaml:"source_repository_ref,omitempty"`
}

// LockResolvedFrom records where a source adapter was resolved.
type LockResolvedFrom struct {
	Registry   string `yaml:"registry,omitempty"`
	Descriptor string `yaml:"descriptor,omitempty"`
}

// LockVerification records how a source adapter was verified.
type LockVerification struct {
	Status     string `yaml:"status,omitempty"`
	VerifiedAt string `yaml:"verified_at,omitempty"`
}

// LockedPlatform pins one platform's adapter binary.
type LockedPlatform struct {
	Digest string `yaml:"digest"`
	Asset  string `yaml:"asset,omitempty"`
	URL    string `yaml:"url,omitempty"`
}

// UnmarshalYAML refuses keys a signer does not have, so a typo such as
// "keyfile:" fails instead of leaving the signer empty.
func (s *VerifySigner) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("each verify.signers entry must be a mapping (key: or issuer: and subject:)")
	}
	known := yamlKeys(reflect.TypeOf(VerifySigner{}))
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; known[k].Name == "" {
			return fmt.Errorf("unknown key %q in verify.signers (valid keys: %s)", k, strings.Join(sortedKeys(known), ", "))
		}
	}
	type plain VerifySigner
	return n.Decode((*plain)(s))
}
