package ocistore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// maxRepositories bounds a search across the namespace's repositories.
const maxRepositories = 10000

// PullPrepare answers pull.prepare. With a stream the ref is resolved in
// the stream's repository; without one, in every repository below the
// namespace (the registry's catalog, which distribution, Harbor and GitLab
// have and GHCR and ECR do not: there the stream must be named). latest is
// the newest release (the largest rel_ tag; the latest tag when there is
// none), release_id its tag, version the version's tag ("1.2" also finds
// "v1.2"), digest the pack tag. pack.digest is the layer's (the FILE)
// digest.
func (r *Registry) PullPrepare(ctx context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
	ref, t := req.Ref, req.Target
	n := 0
	for _, set := range []bool{ref.Latest, ref.ReleaseID != "", ref.Version != "", ref.Digest != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, bad("ref must set exactly one of latest, release_id, version, digest")
	}
	for _, nm := range []struct{ kind, v string }{{registry.KindWorkspace, t.Workspace}, {registry.KindEnvironment, t.Environment}} {
		if nm.v != "" {
			if err := registry.CheckName(nm.kind, nm.v); err != nil {
				return nil, err
			}
		}
	}
	var tags []string
	var what string
	switch {
	case ref.ReleaseID != "":
		if !registry.ValidReleaseID(ref.ReleaseID) {
			return nil, bad("release_id %q is not a release id (rel_<26 characters>)", truncate(ref.ReleaseID))
		}
		tags, what = []string{ref.ReleaseID}, "release "+ref.ReleaseID
	case ref.Version != "":
		tag, err := VersionTag(ref.Version)
		if err != nil {
			return nil, err
		}
		tags, what = []string{tag}, "version "+ref.Version
		if c := ref.Version[0]; c >= '0' && c <= '9' {
			if vt, err := VersionTag("v" + ref.Version); err == nil {
				tags = append(tags, vt)
			}
		}
	case ref.Digest != "":
		h, err := registry.ParseDigest("ref.digest", ref.Digest)
		if err != nil {
			return nil, err
		}
		tags, what = []string{packTag(h)}, "pack "+ref.Digest
	default:
		what = "latest release"
	}
	repos, where, err := r.reposFor(ctx, t)
	if err != nil {
		return nil, err
	}
	var best *found
	for _, path := range repos {
		repo := r.c.repository(path)
		var f *found
		if tags == nil {
			f, err = r.latestIn(ctx, repo, t)
		} else {
			for _, tag := range tags {
				if f, err = r.lookup(ctx, repo, tag); err != nil || f != nil {
					break
				}
			}
		}
		if err != nil {
			if len(repos) > 1 && registry.CodeOf(err) == protocol.CodeConflict {
				continue // another tool's repository
			}
			return nil, err
		}
		if f == nil || !inScope(f.rel, t, t.Stream != "") {
			continue
		}
		if ref.Version != "" && !f.rel.foreign {
			vs := versionsOf(f.rel.Labels)
			if !slices.Contains(vs, ref.Version) && !slices.Contains(vs, "v"+ref.Version) {
				continue // a tag shared by versions that differ in '+' and '_'
			}
		}
		if best == nil || f.rel.ID > best.rel.ID {
			best = f
		}
		if ref.ReleaseID != "" || ref.Digest != "" && t.Stream != "" {
			break
		}
	}
	if best == nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "%s not found in %s", what, where)
	}
	rel := best.rel
	stream := rel.Stream
	if stream == "" {
		stream = t.Stream
	}
	if stream == "" {
		ns, _ := r.cfg.namespaceFor(t)
		stream = strings.TrimPrefix(best.repo, ns+"/")
	}
	repo := r.c.repository(best.repo)
	dl, staged, err := r.downloadTarget(ctx, repo, rel)
	if err != nil {
		return nil, err
	}
	version := ref.Version
	if version == "" {
		version = rel.version()
	}
	return &protocol.PullPrepareResponse{
		Download: dl,
		Pack: protocol.PulledPack{
			Digest:    rel.FileDigest,
			SizeBytes: rel.Size,
			Stream:    stream,
			CreatedAt: rel.Created,
			ReleaseID: rel.ID,
			Version:   version,
			Labels:    rel.Labels,
		},
		FinalizeToken: pullToken{Digest: rel.FileDigest, ReleaseID: rel.ID, Staged: staged}.encode(),
	}, nil
}

// latestIn returns the newest release in repo that belongs to t: the
// largest release tag whose manifest is t's, else what the latest tag
// names (a repository another tool filled).
func (r *Registry) latestIn(ctx context.Context, repo *remote.Repository, t protocol.TargetConfig) (*found, error) {
	ids, err := r.releaseTags(ctx, repo)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 1; i >= 0 && i >= len(ids)-50; i-- {
		f, err := r.lookup(ctx, repo, ids[i])
		if err != nil {
			return nil, err
		}
		if f != nil && inScope(f.rel, t, t.Stream != "") {
			return f, nil
		}
	}
	if len(ids) > 0 {
		return nil, nil
	}
	return r.lookup(ctx, repo, tagLatest)
}

// releaseTags returns the release tags of repo, sorted (oldest first).
func (r *Registry) releaseTags(ctx context.Context, repo *remote.Repository) ([]string, error) {
	tags, err := r.tagsWithPrefix(ctx, repo, releasePrefix)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(tags, func(t string) bool { return !registry.ValidReleaseID(t) }), nil
}

// reposFor returns the repositories a request without a stream looks in
// (all below the namespace), or the stream's one; and how to name them.
func (r *Registry) reposFor(ctx context.Context, t protocol.TargetConfig) ([]string, string, error) {
	if t.Stream != "" {
		p, err := r.cfg.Repository(t)
		if err != nil {
			return nil, "", err
		}
		return []string{p}, fmt.Sprintf("stream %q (%s/%s)", t.Stream, r.cfg.Registry, p), nil
	}
	ns, err := r.cfg.namespaceFor(t)
	if err != nil {
		return nil, "", err
	}
	prefix := ""
	if ns != "" {
		prefix = ns + "/"
	}
	var out []string
	errStop := errors.New("enough")
	err = r.c.registryClient().Repositories(ctx, "", func(repos []string) error {
		for _, p := range repos {
			if strings.HasPrefix(p, prefix) {
				out = append(out, p)
			}
		}
		if len(out) > maxRepositories {
			return errStop
		}
		return nil
	})
	where := fmt.Sprintf("the repositories below %s/%s", r.cfg.Registry, ns)
	if ns == "" {
		where = "the repositories of " + r.cfg.Registry
	}
	switch {
	case errors.Is(err, errStop):
		return nil, "", bad("%s are more than %d: name the stream (--stream)", where, maxRepositories)
	case err != nil:
		e := r.c.fail(err, "listing %s", where)
		return nil, "", protocol.Wrapf(registry.CodeOf(e), e, "this registry cannot list its repositories, so a pull without a stream cannot search them: name the stream (epack pull --stream <stream>)")
	}
	return out, where, nil
}
