package ocistore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Name is the adapter name in capabilities.
const Name = "oci"

// Options adjust New.
type Options struct {
	// Credentials authenticate the adapter (see Credentials).
	Credentials Credentials
	// FileRoot is EPACK_REMOTE_FILE_ROOT (transport.file_root): where the
	// adapter puts a pack it downloads for the host, when the host cannot
	// fetch it without credentials. "" = the adapter cannot do that.
	FileRoot string
	// Transport replaces the HTTP transport (tests); nil builds one that
	// trusts Config.CAFile.
	Transport http.RoundTripper
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// UserAgent is sent with every request (default "epack-remote-oci").
	UserAgent string
}

// Registry is an epack registry in an OCI registry. It talks to the
// registry only when asked to do something (New makes no request).
type Registry struct {
	cfg Config
	c   *conn
	opt Options
}

// New returns the registry cfg names, with o's credentials.
func New(cfg Config, o Options) (*Registry, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, err := newConn(cfg, o)
	if err != nil {
		return nil, err
	}
	return &Registry{cfg: cfg, c: c, opt: o}, nil
}

// Config returns the registry's configuration.
func (r *Registry) Config() Config { return r.cfg }

// Capabilities is the adapter's capabilities document (the same with or
// without a configuration).
func Capabilities() protocol.Capabilities {
	return protocol.Capabilities{
		Name:                  Name,
		Kind:                  "remote_adapter",
		DeployProtocolVersion: protocol.ProtocolVersion,
		Features: protocol.Features{
			PrepareFinalize: true,
			Pull:            true,
			RunsSync:        true,
			Whoami:          true,
			ReleasesList:    true,
			// Blobs are addressed and checked by SHA-256.
			NoFileChecksum: true,
		},
		Limits: protocol.Limits{MaxRunsPerSync: MaxRunsPerSync},
		Extensions: map[string]any{
			"blob_key":        "file_digest",
			"artifact_type":   ArtifactType,
			"layer_type":      LayerMediaType,
			"version_labels":  "v<digit>… or version:<v> / version=<v>",
			"release_id_form": "rel_<ULID>",
			"run_type":        RunArtifactType,
		},
	}
}

// found is a pack manifest read from a repository.
type found struct {
	repo string // repository path
	tag  string // the tag it was found under
	rel  *release
	desc ocispec.Descriptor // of the manifest
	raw  []byte
}

// lookup reads the manifest tag names in repository path: nil when the
// tag does not exist; an error naming the tag when it holds something that
// is not a pack artifact or has malformed annotations.
func (r *Registry) lookup(ctx context.Context, repo *remote.Repository, tag string) (*found, error) {
	desc, rc, err := repo.FetchReference(ctx, tag)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, r.c.fail(err, "reading tag %s of %s", tag, r.ref(repo))
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, r.c.fail(err, "reading tag %s of %s", tag, r.ref(repo))
	}
	if len(raw) > maxManifestBytes {
		return nil, protocol.Errorf(protocol.CodeServerError, "tag %s of %s holds a manifest over %d bytes", tag, r.ref(repo), maxManifestBytes)
	}
	rel, err := parseRelease(raw)
	if err != nil {
		var np errNotPack
		if errors.As(err, &np) {
			return nil, protocol.Errorf(protocol.CodeConflict, "tag %s of %s is not an evidence pack (%s); this repository is not epack's alone", tag, r.ref(repo), np.why)
		}
		return nil, protocol.Errorf(protocol.CodeServerError, "tag %s of %s: %v", tag, r.ref(repo), err)
	}
	return &found{repo: repo.Reference.Repository, tag: tag, rel: rel, desc: desc, raw: raw}, nil
}

// ref is <registry>/<repository> for messages.
func (r *Registry) ref(repo *remote.Repository) string {
	return r.cfg.Registry + "/" + repo.Reference.Repository
}

// canonicalRef is the reference that follows a release: <registry>/<repository>:<release id>.
func (r *Registry) canonicalRef(repo, id string) string {
	return r.cfg.Registry + "/" + repo + ":" + id
}

// inScope reports whether a release belongs to target: the stream,
// workspace and environment it records must be the target's. A manifest
// another tool pushed (no release id) is checked only on what it records.
func inScope(rel *release, t protocol.TargetConfig, checkStream bool) bool {
	if checkStream && rel.Stream != "" && rel.Stream != t.Stream {
		return false
	}
	if rel.foreign {
		return (rel.Workspace == "" || rel.Workspace == t.Workspace) && (rel.Environment == "" || rel.Environment == t.Environment)
	}
	return rel.Workspace == t.Workspace && rel.Environment == t.Environment
}

// describeScope names a release's target for messages.
func describeScope(stream, ws, env string) string {
	s := fmt.Sprintf("stream %q", stream)
	if ws != "" {
		s += fmt.Sprintf(", workspace %q", ws)
	}
	if env != "" {
		s += fmt.Sprintf(", environment %q", env)
	}
	return s
}

// pushManifest puts raw (described by desc) under tag. Distribution can
// lose the repository's link to a blob that concurrent pushes upload at
// once (the empty config): a manifest refused for an unknown blob gets the
// config stored again and another try.
func (r *Registry) pushManifest(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, raw []byte, tag string) error {
	for attempt := 0; ; attempt++ {
		err := repo.PushReference(ctx, desc, bytes.NewReader(raw), tag)
		if err == nil {
			return nil
		}
		if attempt >= 4 || !hasErrorCode(err, errcode.ErrorCodeManifestBlobUnknown) {
			return r.c.fail(err, "tagging %s:%s", r.ref(repo), tag)
		}
		if err := repo.Blobs().Push(ctx, ocispec.DescriptorEmptyJSON, bytes.NewReader(ocispec.DescriptorEmptyJSON.Data)); err != nil {
			return r.c.fail(err, "storing the config blob of %s", r.ref(repo))
		}
	}
}

// resolveTag returns the manifest digest a tag names ("" when absent).
func (r *Registry) resolveTag(ctx context.Context, repo *remote.Repository, tag string) (string, error) {
	d, err := repo.Resolve(ctx, tag)
	if err != nil {
		if notFound(err) {
			return "", nil
		}
		return "", r.c.fail(err, "resolving %s:%s", r.ref(repo), tag)
	}
	return string(d.Digest), nil
}

// ensureEmptyConfig stores the empty config blob the manifests name.
func (r *Registry) ensureEmptyConfig(ctx context.Context, repo *remote.Repository) error {
	ok, err := repo.Blobs().Exists(ctx, ocispec.DescriptorEmptyJSON)
	if err != nil {
		return r.c.fail(err, "checking the config blob of %s", r.ref(repo))
	}
	if ok {
		return nil
	}
	if err := repo.Blobs().Push(ctx, ocispec.DescriptorEmptyJSON, bytes.NewReader(ocispec.DescriptorEmptyJSON.Data)); err != nil {
		return r.c.fail(err, "storing the config blob of %s", r.ref(repo))
	}
	return nil
}

// Whoami answers auth.whoami: the registry (and namespace) as issuer, who
// the adapter acts as as subject, after checking the registry accepts it.
func (r *Registry) Whoami(ctx context.Context) (*protocol.WhoamiIdentity, error) {
	if err := r.c.registryClient().Ping(ctx); err != nil {
		return nil, r.c.fail(err, "checking access to registry %s", r.cfg.Registry)
	}
	return &protocol.WhoamiIdentity{
		Authenticated: r.c.creds.has(),
		Subject:       r.c.creds.subject(ctx, r.cfg.Registry),
		Issuer:        r.cfg.Location(),
	}, nil
}

// PullFinalize confirms a download and removes the copy the adapter made
// for it, if it made one. An OCI registry keeps no record of fetches.
func (r *Registry) PullFinalize(ctx context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
	if _, err := registry.ParseDigest("digest", req.Digest); err != nil {
		return nil, err
	}
	if req.FinalizeToken != "" {
		tok, err := decodePullToken(req.FinalizeToken)
		if err != nil {
			return nil, err
		}
		if tok.Digest != req.Digest {
			return nil, bad("digest %s differs from the one pull.prepare returned (%s)", req.Digest, truncate(tok.Digest))
		}
		if tok.Staged != "" {
			r.removeStaged(tok.Staged)
		}
	}
	return &protocol.PullFinalizeResponse{Confirmed: true}, nil
}

// hasAll reports whether have holds every label of want.
func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
