package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
	"strings"
	"sync"

	"github.com/evidencerelay/epack/protocol"
)

// The listing index: one small object per release (and per release and
// label) whose key sorts newest first, so a page of releases.list is one
// ordered listing from a cursor plus one read per release, however many
// releases the registry holds. Under each of the stream's folder and the
// environment's @all folder:
//
//	list/<t1>/<t2>/<inv>.json                  every release
//	labels/<label>/<t1>/<t2>/<inv>.json        every release carrying <label>
//
// <inv> is the release id's 26 ULID characters each replaced by its
// complement in the Crockford alphabet (value v → 31−v), so ascending key
// order is descending id order, that is newest first. <t1> and <t2> are its
// first four and next two characters: the creation time in 12.4-day, then
// 17.5-minute buckets, which keeps every folder of a directory store small
// (an S3 store does not care). The object holds the release id and stream
// (listEntry). @all/listing.json marks an environment whose every release
// is indexed; releases recorded before the index existed are indexed the
// first time the environment is listed (ensureListing).

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// invert maps each Crockford character of s to its complement.
func invert(s string) string {
	b := []byte(s)
	for i, c := range b {
		if k := strings.IndexByte(crockford, c); k >= 0 {
			b[i] = crockford[31-k]
		}
	}
	return string(b)
}

// listName is the part of a listing key that names release id (valid).
func listName(id string) string {
	inv := invert(id[len("rel_"):])
	return inv[:4] + "/" + inv[4:6] + "/" + inv + ".json"
}

// idOfListKey returns the release id a listing key names.
func idOfListKey(key string) (string, bool) {
	name, ok := strings.CutSuffix(path.Base(key), ".json")
	if !ok || len(name) != 26 {
		return "", false
	}
	id := "rel_" + invert(name)
	if !ValidReleaseID(id) || !strings.HasSuffix(key, listName(id)) {
		return "", false
	}
	return id, true
}

// listEntry is the content of a listing object.
type listEntry struct {
	ReleaseID string `json:"release_id"`
	Stream    string `json:"stream"`
}

// listingMarker is @all/listing.json.
type listingMarker struct {
	Version int `json:"version"`
}

func (s scope) listingMarkerKey() string { return path.Join(s.allDir(), "listing.json") }

// listPrefix is where releases.list reads: dir's list/ folder, or the
// folder of label when one is given.
func listPrefix(dir, label string) string {
	if label == "" {
		return path.Join(dir, "list") + "/"
	}
	return path.Join(dir, "labels", shortSegment(label)) + "/"
}

// shortSegment is EscapeName(name) when that is at most 64 bytes, else "@h"
// and 32 hex of the name's SHA-256 ('@' never starts an escaped name): keys
// that add a label or version below a stream stay well within S3's 1,024
// bytes whatever the names.
func shortSegment(name string) string {
	if seg := EscapeName(name); len(seg) <= 64 {
		return seg
	}
	sum := sha256.Sum256([]byte(name))
	return "@h" + hex.EncodeToString(sum[:16])
}

// indexListing creates rel's listing objects (sc has rel's stream): the
// stream's and the label ones first, the environment's list entry last, so
// a release that has that one is fully indexed (ensureListing relies on
// it). With repair, each object is looked for before it is written: a push
// of a release that exists rewrites nothing it already has.
func (r *Registry) indexListing(ctx context.Context, sc scope, rel *Release, repair bool) error {
	name := listName(rel.ReleaseID)
	data := mustJSON(listEntry{ReleaseID: rel.ReleaseID, Stream: rel.Stream})
	keys := []string{path.Join(sc.streamDir(), "list", name)}
	for _, l := range rel.Labels {
		keys = append(keys, listPrefix(sc.streamDir(), l)+name, listPrefix(sc.allDir(), l)+name)
	}
	create := func(ctx context.Context, key string) error {
		if repair {
			if _, err := r.store.Head(ctx, key); err == nil {
				return nil
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if err := r.store.CreateIfAbsent(ctx, key, data); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
		return nil
	}
	if err := parallel(ctx, keys, create); err != nil {
		return storeErr(err, "indexing release %s for listing", rel.ReleaseID)
	}
	if err := create(ctx, path.Join(sc.allDir(), "list", name)); err != nil {
		return storeErr(err, "indexing release %s for listing", rel.ReleaseID)
	}
	return nil
}

// ensureListing indexes, once per environment, the releases recorded before
// the listing index existed: when @all/listing.json is missing, every
// release record of the environment without an @all list entry is indexed,
// then the marker is written. A registry our push created from the start
// has the marker from its first release on (updateIndexes).
func (r *Registry) ensureListing(ctx context.Context, sc scope) error {
	marker := sc.listingMarkerKey()
	if _, err := r.store.Head(ctx, marker); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return storeErr(err, "reading %s", marker)
	}
	recs, err := r.store.List(ctx, path.Join("releases", sc.wsSeg, sc.envSeg)+"/", 0)
	if err != nil {
		return storeErr(err, "listing the release records")
	}
	if len(recs) == 0 {
		return nil // nothing to index; the first push writes the marker
	}
	indexed, err := r.store.List(ctx, path.Join(sc.allDir(), "list")+"/", 0)
	if err != nil {
		return storeErr(err, "listing the listing index")
	}
	have := make(map[string]bool, len(indexed))
	for _, e := range indexed {
		if id, ok := idOfListKey(e.Key); ok {
			have[id] = true
		}
	}
	var todo []string
	for _, e := range recs {
		id, ok := strings.CutSuffix(path.Base(e.Key), ".json")
		if ok && ValidReleaseID(id) && !have[id] && strings.Count(e.Key, "/") == 4 {
			todo = append(todo, e.Key)
		}
	}
	missing := len(todo)
	more := missing > backfillBatch
	if more {
		todo = todo[:backfillBatch] // bounded, so the call ends well within its timeout
	}
	err = parallel(ctx, todo, func(ctx context.Context, key string) error {
		var rel Release
		if _, err := r.getJSON(ctx, key, &rel); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		rs := sc
		rs.stream = rel.Stream
		rs.streamSeg = EscapeName(rel.Stream)
		if CheckName(KindStream, rel.Stream) != nil || !ValidReleaseID(rel.ReleaseID) || rs.releaseKey(rel.ReleaseID) != key {
			return nil // not a record this registry wrote; never listed
		}
		return r.indexListing(ctx, rs, &rel, true)
	})
	if err != nil {
		return storeErr(err, "indexing earlier releases for listing")
	}
	if more {
		// Retryable: the host tries again, and each try indexes more.
		return protocol.Errorf(protocol.CodeServerError,
			"this registry is indexing the releases it recorded before it could list them: %d of %d done; try again",
			len(have)+len(todo), len(have)+missing)
	}
	if err := r.store.CreateIfAbsent(ctx, marker, mustJSON(listingMarker{Version: 1})); err != nil && !errors.Is(err, ErrExists) {
		return storeErr(err, "writing %s", marker)
	}
	return nil
}

// backfillBatch bounds how many earlier releases one call indexes.
var backfillBatch = 5000

// parallelism bounds the store calls one request makes at once.
const parallelism = 8

// parallel calls fn for every key, at most parallelism at a time, and
// returns the first error (the others are still waited for).
func parallel(ctx context.Context, keys []string, fn func(context.Context, string) error) error {
	return each(ctx, len(keys), func(ctx context.Context, i int) error { return fn(ctx, keys[i]) })
}

// each calls fn for 0..n-1, at most parallelism at a time, and returns the
// first error (the others are still waited for).
func each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, parallelism)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return first
}
