package ocistore

import (
	"context"
	"slices"
	"strings"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/evidencerelay/epack/registry"
)

// tagsWithPrefix returns repo's tags that start with prefix, sorted (none
// when the repository does not exist yet). It reads every tag: registries
// need not sort tags nor honour the list's `last` parameter (distribution
// 2.8 does neither), so a listing cannot stop early.
func (r *Registry) tagsWithPrefix(ctx context.Context, repo *remote.Repository, prefix string) ([]string, error) {
	var out []string
	err := repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			if strings.HasPrefix(t, prefix) {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, r.c.fail(err, "listing the tags of %s", r.ref(repo))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// idsWithPrefix returns the release ids that follow prefix in repo's tags,
// oldest first.
func (r *Registry) idsWithPrefix(ctx context.Context, repo *remote.Repository, prefix string) ([]string, error) {
	tags, err := r.tagsWithPrefix(ctx, repo, prefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range tags {
		if id := strings.TrimPrefix(t, prefix); registry.ValidReleaseID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
