package ocistore

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// listScanBudget bounds the manifests one releases.list call reads beyond
// its page (label filters may skip many); past it the page ends early with
// a cursor.
const listScanBudget = 500

// ReleasesList answers releases.list: the releases of the target's stream
// (or of every repository below the namespace when the target names none),
// newest first, optionally only those carrying every label asked for. It
// reads the release tags, then one manifest per release examined; the
// cursor is the release id the previous page ended at.
func (r *Registry) ReleasesList(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
	if err := req.Check(); err != nil {
		return nil, bad("%v", err)
	}
	for _, l := range req.Labels {
		if err := registry.CheckName("label", l); err != nil {
			return nil, err
		}
	}
	if req.Cursor != "" && !registry.ValidReleaseID(req.Cursor) {
		return nil, bad("cursor %q is not one this registry hands out (a release id, rel_…)", truncate(req.Cursor))
	}
	t := req.Target
	repos, _, err := r.reposFor(ctx, t)
	if err != nil {
		return nil, err
	}
	type item struct{ id, repo string }
	var items []item
	for _, p := range repos {
		ids, err := r.releaseTags(ctx, r.c.repository(p))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if req.Cursor == "" || id < req.Cursor {
				items = append(items, item{id, p})
			}
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(b.id, a.id) })
	limit := req.PageLimit()
	out := []protocol.ReleaseEntry{}
	more := func(last string) *protocol.ReleasesListResponse {
		return &protocol.ReleasesListResponse{Releases: out, NextCursor: last}
	}
	scanned, last := 0, ""
	for start := 0; start < len(items); {
		if len(out) == limit || scanned >= limit+listScanBudget {
			return more(last), nil // items[start:] are the next page's
		}
		end := min(len(items), start+8)
		batch := items[start:end]
		entries := make([]*protocol.ReleaseEntry, len(batch))
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, it := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := r.lookup(ctx, r.c.repository(it.repo), it.id)
				if err != nil || f == nil || f.rel.ID != it.id || !inScope(f.rel, t, t.Stream != "") {
					errs[i] = err
					return
				}
				entries[i] = r.entry(f)
			}()
		}
		wg.Wait()
		for i, e := range entries {
			if len(out) == limit {
				return more(last), nil
			}
			// A release tag that is not a pack is another tool's: skipped.
			if errs[i] != nil && registry.CodeOf(errs[i]) != protocol.CodeConflict {
				return nil, errs[i]
			}
			scanned++
			last = batch[i].id
			if e != nil && hasAll(e.Labels, req.Labels) {
				out = append(out, *e)
			}
		}
		start = end
	}
	return &protocol.ReleasesListResponse{Releases: out}, nil
}

// entry is a release as releases.list shows it.
func (r *Registry) entry(f *found) *protocol.ReleaseEntry {
	rel := f.rel
	return &protocol.ReleaseEntry{
		ReleaseID:    rel.ID,
		CreatedAt:    rel.Created,
		Stream:       rel.Stream,
		Version:      rel.version(),
		Labels:       rel.Labels,
		PackDigest:   rel.PackDigest,
		FileDigest:   rel.FileDigest,
		SizeBytes:    rel.Size,
		Signers:      rel.Signers,
		CanonicalRef: r.canonicalRef(f.repo, rel.ID),
	}
}
