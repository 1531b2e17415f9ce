package registry

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Garbage collection (registry.gc): what interrupted pushes leave behind —
// staging records, staged uploads, a store's temp files and incomplete
// multipart uploads — and pack blobs no release references. Never removed:
// a blob any release record, log head or release marker names; anything a
// store keeps under retention or legal hold; anything younger than the
// cutoff; the blob and upload of a push whose staging record is younger
// than the cutoff.
//
// Safe while pushes run: gc lists the blobs first, then what references
// them (records, heads, markers), then the staging records, and removes
// only what none of those protects. A push that had prepared before gc
// listed the staging records keeps its blob and upload; a push whose
// prepare comes later and finds the blob gone at finalize is refused with
// "run the push again" (nothing is published), and finalize checks the
// blob again after publishing.

// LeftoverStore is optionally implemented by a store that keeps objects
// List does not show: temp files of interrupted writes (a directory store),
// incomplete multipart uploads (S3).
type LeftoverStore interface {
	// Leftovers lists them (Key names each for RemoveLeftover).
	Leftovers(ctx context.Context) ([]Entry, error)
	// RemoveLeftover removes one.
	RemoveLeftover(ctx context.Context, key string) error
}

// Retainer is optionally implemented by a store that keeps objects under
// retention or legal hold (S3 Object Lock).
type Retainer interface {
	// Retained reports until when key is retained (zero: not) and whether
	// it is under legal hold.
	Retained(ctx context.Context, key string) (until time.Time, held bool, err error)
}

// gcItem is one candidate with what removes it.
type gcItem struct {
	protocol.GCItem
	remove func(context.Context) error
}

// GC answers registry.gc.
func (r *Registry) GC(ctx context.Context, req *protocol.GCRequest) (*protocol.GCResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := newScope(req.Target, false); err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == 0 {
		limit = protocol.MaxGCLimit
	}
	now := r.opt.Now()
	cutoff := now.Add(-time.Duration(req.OlderThanSeconds) * time.Second)
	kept := map[string]int{}

	// 1. The blobs, before anything that could reference them.
	blobs, err := r.store.List(ctx, "blobs/sha256/", 0)
	if err != nil {
		return nil, storeErr(err, "listing blobs")
	}
	// 2. What references blobs.
	refs, err := r.blobRefs(ctx)
	if err != nil {
		return nil, err
	}
	// 3. Pushes in flight (their staging records).
	staging, err := r.store.List(ctx, "staging/", 0)
	if err != nil {
		return nil, storeErr(err, "listing staging")
	}
	young := map[string]bool{} // tokens of young staging records
	var items []gcItem
	finished := map[string]bool{} // tokens of pushes that published
	for _, e := range staging {
		name := path.Base(e.Key)
		tok, isRec := strings.CutSuffix(name, ".json")
		if !isRec || !validToken(tok) {
			continue
		}
		var rec stagingRecord
		if _, err := r.getJSON(ctx, e.Key, &rec); err == nil && rec.Done != nil {
			finished[tok] = true
			continue
		}
		if e.ModTime.IsZero() || !e.ModTime.Before(cutoff) {
			young[tok] = true
			if isHex64(rec.FileHex) {
				refs[rec.FileHex] = true // a push in flight may skip its upload or be promoting it
			}
		}
	}
	for _, e := range staging {
		name := path.Base(e.Key)
		tok, _, _ := strings.Cut(name, ".")
		switch {
		case e.ModTime.IsZero() || !e.ModTime.Before(cutoff):
			kept["young"]++
			continue
		case young[tok]:
			kept["in_flight"]++
			continue
		}
		kind, why := protocol.GCUpload, "staged upload of a push that did not finish"
		switch {
		case strings.HasSuffix(name, ".json") && finished[tok]:
			kind, why = protocol.GCStaging, "record of a finished push"
		case strings.HasSuffix(name, ".json"):
			kind, why = protocol.GCStaging, "record of a push that did not finish"
		}
		key := e.Key
		items = append(items, gcItem{GCItem: protocol.GCItem{Key: key, Kind: kind, SizeBytes: e.Size, ModifiedAt: e.ModTime, Reason: why},
			remove: func(ctx context.Context) error { return r.store.Delete(ctx, key) }})
	}
	if ls, ok := r.store.(LeftoverStore); ok {
		left, err := ls.Leftovers(ctx)
		if err != nil {
			return nil, storeErr(err, "listing leftovers of interrupted writes")
		}
		for _, e := range left {
			if e.ModTime.IsZero() || !e.ModTime.Before(cutoff) {
				kept["young"]++
				continue
			}
			key := e.Key
			items = append(items, gcItem{GCItem: protocol.GCItem{Key: key, Kind: protocol.GCUpload, SizeBytes: e.Size, ModifiedAt: e.ModTime, Reason: "left by an interrupted upload or write"},
				remove: func(ctx context.Context) error { return ls.RemoveLeftover(ctx, key) }})
		}
	}
	ret, _ := r.store.(Retainer)
	for _, e := range blobs {
		hex := path.Base(e.Key)
		switch {
		case refs[hex]:
			kept["referenced"]++
			continue
		case !isHex64(hex):
			continue // not a blob this registry wrote
		case e.ModTime.IsZero() || !e.ModTime.Before(cutoff):
			kept["young"]++
			continue
		}
		if ret != nil {
			until, held, err := ret.Retained(ctx, e.Key)
			if err != nil {
				return nil, storeErr(err, "reading the retention of %s", e.Key)
			}
			if held || until.After(now) {
				kept["retained"]++
				continue
			}
		}
		key := e.Key
		items = append(items, gcItem{GCItem: protocol.GCItem{Key: key, Kind: protocol.GCBlob, SizeBytes: e.Size, ModifiedAt: e.ModTime, Reason: "pack blob no release references"},
			remove: func(ctx context.Context) error { return r.store.Delete(ctx, key) }})
	}
	slices.SortFunc(items, func(a, b gcItem) int { return strings.Compare(a.Key, b.Key) })
	out := &protocol.GCResponse{DryRun: req.DryRun, Removed: []protocol.GCItem{}, Kept: kept}
	if len(items) > limit {
		items, out.More = items[:limit], true
	}
	for _, it := range items {
		if !req.DryRun {
			if err := it.remove(ctx); err != nil {
				if len(out.Removed) > 0 {
					out.More = true
					break // report what was removed; the next call goes on
				}
				return nil, storeErr(err, "removing %s", it.Key)
			}
		}
		out.Removed = append(out.Removed, it.GCItem)
		out.RemovedBytes += it.SizeBytes
	}
	if len(kept) == 0 {
		out.Kept = nil
	}
	return out, nil
}

// blobRefs returns the blobs (file hex) that any release references: every
// release record (log or legacy), every log head's copy of its newest
// record, every release marker of a stream.
func (r *Registry) blobRefs(ctx context.Context) (map[string]bool, error) {
	refs := map[string]bool{}
	var mu sync.Mutex
	addDigest := func(d string) {
		if h, err := ParseDigest("file_digest", d); err == nil {
			mu.Lock()
			refs[h] = true
			mu.Unlock()
		}
	}
	recs, err := r.store.List(ctx, "releases/", 0)
	if err != nil {
		return nil, storeErr(err, "listing release records")
	}
	idx, err := r.store.List(ctx, "streams/", 0)
	if err != nil {
		return nil, storeErr(err, "listing the stream indexes")
	}
	var heads []string
	for _, e := range idx {
		switch {
		case path.Base(e.Key) == "head.json":
			heads = append(heads, e.Key)
		case path.Base(path.Dir(e.Key)) == "digests":
			if h, ok := strings.CutSuffix(path.Base(e.Key), ".json"); ok && isHex64(h) {
				refs[h] = true
			}
		}
	}
	keys := make([]string, 0, len(recs)+len(heads))
	for _, e := range recs {
		keys = append(keys, e.Key)
	}
	keys = append(keys, heads...)
	err = parallel(ctx, keys, func(ctx context.Context, key string) error {
		data, _, err := r.store.Get(ctx, key, maxRecordBytes)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if path.Base(key) == "head.json" {
			var h logHead
			if json.Unmarshal(data, &h) == nil {
				var rel Release
				if json.Unmarshal(h.Body, &rel) == nil {
					addDigest(rel.FileDigest)
				}
			}
			return nil
		}
		var rel Release
		if err := json.Unmarshal(data, &rel); err != nil {
			// A record that cannot be read may still name a blob: gc
			// removes no blob while one is unreadable.
			return protocol.Errorf(protocol.CodeServerError, "release record %s cannot be read (%v): run epack log verify; gc removed nothing", key, err)
		}
		addDigest(rel.FileDigest)
		return nil
	})
	if err != nil {
		return nil, storeErr(err, "reading what references blobs")
	}
	return refs, nil
}
