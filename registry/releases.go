package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/evidencerelay/epack/protocol"
)

// Bounds on the work of one releases.list call: it examines at most
// listScanBudget listing entries beyond the page and answers at most
// listMaxBytes of releases; past either it returns what it has and a cursor.
var (
	listScanBudget = 2000
	listMaxBytes   = 4 << 20
)

// ReleasesList answers releases.list: one page of the releases of the
// target's stream (or of every stream of the workspace and environment
// when the target names none), newest first, optionally only those
// carrying every label asked for. The cursor is the release id the
// previous page ended at: the page holds releases older than it.
func (r *Registry) ReleasesList(ctx context.Context, req *protocol.ReleasesListRequest) (*protocol.ReleasesListResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	sc, err := newScope(req.Target, false)
	if err != nil {
		return nil, err
	}
	labels := dedupe(req.Labels)
	for _, l := range labels {
		if err := CheckName("label", l); err != nil {
			return nil, err
		}
	}
	if req.Cursor != "" && !ValidReleaseID(req.Cursor) {
		return nil, invalid("cursor %q is not one this registry hands out (a release id, rel_…)", truncate(req.Cursor))
	}
	if err := r.ensureListing(ctx, sc); err != nil {
		return nil, err
	}
	dir := sc.allDir()
	if sc.streamSeg != "" {
		dir = sc.streamDir()
	}
	first := ""
	if len(labels) > 0 {
		first = labels[0]
	}
	prefix := listPrefix(dir, first)
	after := ""
	if req.Cursor != "" {
		after = prefix + listName(req.Cursor)
	}
	limit := req.PageLimit()

	out := []protocol.ReleaseEntry{}
	page := func(more bool) *protocol.ReleasesListResponse {
		resp := &protocol.ReleasesListResponse{Releases: out}
		if more {
			resp.NextCursor, _ = idOfListKey(after) // the next page starts after the last entry examined
		}
		return resp
	}
	size, scanned := 0, 0
	for {
		need := limit - len(out)
		want := need + 1 // one more than needed: is there a next page?
		if len(labels) > 1 {
			// Most entries of the first label may not match: read more at
			// once, within what is left of the scan budget.
			want = max(1, min(max(want, 64), limit+listScanBudget-scanned))
		}
		keys, err := listAfter(ctx, r.store, prefix, after, want)
		if err != nil {
			return nil, storeErr(err, "listing releases")
		}
		read := keys
		if len(labels) <= 1 && len(read) > need {
			read = read[:need] // each should match: the rest only tells there is more
		}
		entries, err := r.readListed(ctx, sc, read)
		if err != nil {
			return nil, err
		}
		for i, e := range entries {
			if len(out) == limit {
				return page(true), nil
			}
			if e != nil && hasAll(e.Labels, labels) {
				b, _ := json.Marshal(e)
				if size += len(b); size > listMaxBytes && len(out) > 0 {
					return page(true), nil // e starts the next page
				}
				out = append(out, *e)
			}
			scanned++
			after = read[i].Key
		}
		switch {
		case len(keys) > len(read) && len(out) == limit:
			return page(true), nil
		case len(keys) == len(read) && len(keys) < want:
			return page(false), nil // the listing ends here
		case scanned >= limit+listScanBudget:
			return page(true), nil
		}
	}
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// readListed reads the releases listing keys name, in order; nil for a key
// that names no release (a stray object, a record since removed).
func (r *Registry) readListed(ctx context.Context, sc scope, keys []Entry) ([]*protocol.ReleaseEntry, error) {
	out := make([]*protocol.ReleaseEntry, len(keys))
	idx := make(map[string]int, len(keys))
	names := make([]string, 0, len(keys))
	for i, k := range keys {
		idx[k.Key] = i
		names = append(names, k.Key)
	}
	err := parallel(ctx, names, func(ctx context.Context, key string) error {
		e, err := r.readListedOne(ctx, sc, key)
		out[idx[key]] = e
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Registry) readListedOne(ctx context.Context, sc scope, key string) (*protocol.ReleaseEntry, error) {
	id, ok := idOfListKey(key)
	if !ok {
		return nil, nil
	}
	rs := sc
	if rs.streamSeg == "" {
		var le listEntry
		if _, err := r.getJSON(ctx, key, &le); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return nil, storeErr(err, "reading %s", key)
		}
		if le.ReleaseID != id || CheckName(KindStream, le.Stream) != nil {
			return nil, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", key)
		}
		rs.stream, rs.streamSeg = le.Stream, EscapeName(le.Stream)
	}
	rel, err := r.releaseState(ctx, rs, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, storeErr(err, "reading release %s", id)
	}
	if rel.ReleaseID != id || rel.Stream != rs.stream {
		return nil, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", rs.releaseKey(id))
	}
	if _, err := ParseDigest("file_digest", rel.FileDigest); err != nil || rel.SizeBytes <= 0 || rel.CreatedAt.IsZero() || protocol.CheckSigners(rel.Signers) != nil {
		return nil, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt", rs.releaseKey(id))
	}
	e := &protocol.ReleaseEntry{
		ReleaseID:    rel.ReleaseID,
		CreatedAt:    rel.CreatedAt,
		Stream:       rel.Stream,
		Labels:       slices.Clone(rel.Labels),
		PackDigest:   rel.PackDigest,
		FileDigest:   rel.FileDigest,
		SizeBytes:    rel.SizeBytes,
		Signers:      slices.Clone(rel.Signers),
		CanonicalRef: rs.canonicalRef(rel.ReleaseID),
		Retention:    r.retentionOf(rel),
	}
	if vs := versionsOf(rel.Labels); len(vs) > 0 {
		e.Version = vs[len(vs)-1]
	}
	return e, nil
}
