package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
)

// seedSpec shapes a seeded registry.
type seedSpec struct {
	n        int
	base     time.Time     // creation time of release 0
	step     time.Duration // between releases
	versions bool          // give release i the label v0.<i>
}

// seedRel is release i of a seeded registry: every third is "monthly",
// every 40th "rare"; streams alternate between acme/a and acme/b.
func seedRel(sp seedSpec, i int) *registry.Release {
	at := sp.base.Add(time.Duration(i) * sp.step)
	sum := sha256.Sum256([]byte(fmt.Sprint("pack ", i)))
	rel := &registry.Release{
		ReleaseID: registry.NewReleaseID(at), Workspace: "acme", Environment: "prod",
		Stream: []string{"acme/a", "acme/b"}[i%2], FileDigest: "sha256:" + hex.EncodeToString(sum[:]),
		PackDigest: "sha256:" + strings.Repeat("c", 64), SizeBytes: int64(1000 + i), CreatedAt: at,
	}
	if sp.versions {
		rel.Labels = append(rel.Labels, fmt.Sprintf("v0.%d", i))
	}
	if i%3 == 0 {
		rel.Labels = append(rel.Labels, "monthly")
	}
	if i%40 == 0 {
		rel.Labels = append(rel.Labels, "rare")
	}
	return rel
}

// seed writes releases straight through s (see registry.SeedRelease).
func seed(t testing.TB, s registry.Store, sp seedSpec) []*registry.Release {
	t.Helper()
	ctx := context.Background()
	rels := make([]*registry.Release, sp.n)
	for i := range rels {
		rels[i] = seedRel(sp, i)
	}
	var wg sync.WaitGroup
	var failed atomic.Value
	work := make(chan *registry.Release)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range work {
				if err := registry.SeedRelease(ctx, s, rel); err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for _, rel := range rels {
		work <- rel
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if err := registry.MarkListed(ctx, s, "acme", "prod"); err != nil {
		t.Fatal(err)
	}
	return rels
}

func newStore(t testing.TB) *fsstore.Store {
	s, err := fsstore.New(filepath.Join(t.TempDir(), "reg"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// want is the ids of rels that keep() accepts, newest first.
func want(rels []*registry.Release, keep func(*registry.Release) bool) []string {
	var out []string
	for _, r := range rels {
		if keep(r) {
			out = append(out, r.ReleaseID)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func listAll(t *testing.T, r *registry.Registry, req protocol.ReleasesListRequest) (ids []string, pages int) {
	t.Helper()
	for {
		resp, err := r.ReleasesList(context.Background(), &req)
		if err != nil {
			t.Fatalf("releases.list %+v: %v", req, err)
		}
		pages++
		if len(resp.Releases) > req.PageLimit() {
			t.Fatalf("page of %d for limit %d", len(resp.Releases), req.PageLimit())
		}
		for _, e := range resp.Releases {
			ids = append(ids, e.ReleaseID)
		}
		if resp.NextCursor == "" {
			return ids, pages
		}
		if pages > 10000 {
			t.Fatal("the listing does not end")
		}
		req.Cursor = resp.NextCursor
	}
}

// plainStore hides the store's ordered listing: the registry lists the
// whole prefix and sorts it.
type plainStore struct{ registry.Store }

func TestReleasesListPages(t *testing.T) {
	s := newStore(t)
	rels := seed(t, s, seedSpec{n: 240, base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Minute, versions: true})
	has := func(l string) func(*registry.Release) bool {
		return func(r *registry.Release) bool { return slices.Contains(r.Labels, l) }
	}
	env := protocol.TargetConfig{Workspace: "acme", Environment: "prod"}
	inA := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/a"}
	for _, st := range []struct {
		name  string
		store registry.Store
	}{{"ordered", s}, {"unordered", plainStore{s}}} {
		r := registry.New(st.store, registry.Options{})
		for _, c := range []struct {
			name string
			req  protocol.ReleasesListRequest
			keep func(*registry.Release) bool
		}{
			{"environment", protocol.ReleasesListRequest{Target: env}, func(*registry.Release) bool { return true }},
			{"stream", protocol.ReleasesListRequest{Target: inA}, func(r *registry.Release) bool { return r.Stream == "acme/a" }},
			{"label", protocol.ReleasesListRequest{Target: env, Labels: []string{"monthly"}}, has("monthly")},
			{"label in a stream", protocol.ReleasesListRequest{Target: inA, Labels: []string{"rare"}}, func(r *registry.Release) bool { return r.Stream == "acme/a" && has("rare")(r) }},
			{"two labels", protocol.ReleasesListRequest{Target: env, Labels: []string{"monthly", "rare"}}, func(r *registry.Release) bool { return has("monthly")(r) && has("rare")(r) }},
			{"a version", protocol.ReleasesListRequest{Target: env, Labels: []string{"v0.17"}}, has("v0.17")},
		} {
			exp := want(rels, c.keep)
			for _, limit := range []int{1, 7, 50, 1000} {
				c.req.Limit = limit
				got, pages := listAll(t, r, c.req)
				if !slices.Equal(got, exp) {
					t.Fatalf("%s %s limit %d: %d releases %v…, want %d", st.name, c.name, limit, len(got), got[:min(len(got), 3)], len(exp))
				}
				if min := (len(exp) + limit - 1) / limit; pages < min || pages > min+1 {
					t.Fatalf("%s %s limit %d: %d pages for %d releases", st.name, c.name, limit, pages, len(exp))
				}
			}
		}
	}

	// A bounded scan: with a budget of 5 entries beyond the page, a rare
	// combination comes in short (even empty) pages, yet all of it comes.
	defer registry.SetListScanBudget(5)()
	r := registry.New(s, registry.Options{})
	got, pages := listAll(t, r, protocol.ReleasesListRequest{Target: env, Labels: []string{"monthly", "rare"}, Limit: 2})
	if exp := want(rels, func(r *registry.Release) bool { return has("monthly")(r) && has("rare")(r) }); !slices.Equal(got, exp) || pages < 5 {
		t.Fatalf("bounded scan: %v in %d pages, want %v in many", got, pages, exp)
	}

	// A bounded answer: past the byte budget the page ends early.
	defer registry.SetListMaxBytes(2000)()
	resp, err := r.ReleasesList(context.Background(), &protocol.ReleasesListRequest{Target: env, Limit: 100})
	if err != nil || len(resp.Releases) == 0 || len(resp.Releases) >= 10 || resp.NextCursor != resp.Releases[len(resp.Releases)-1].ReleaseID {
		t.Fatalf("byte-bounded page: %d releases, cursor %q, %v", len(resp.Releases), resp.NextCursor, err)
	}
}

// countingStore counts the store calls one page makes.
type countingStore struct {
	*fsstore.Store
	lists, listAfters, gets atomic.Int64
}

func (c *countingStore) List(ctx context.Context, prefix string, limit int) ([]registry.Entry, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, limit)
}
func (c *countingStore) ListAfter(ctx context.Context, prefix, after string, limit int) ([]registry.Entry, error) {
	c.listAfters.Add(1)
	return c.Store.ListAfter(ctx, prefix, after, limit)
}
func (c *countingStore) Get(ctx context.Context, key string, max int64) ([]byte, registry.Info, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, max)
}

// A page costs one ordered listing and two or three reads per release
// (its index entry outside a stream, its current copy, and the record the
// copy is checked against), wherever it starts: it never lists the whole
// prefix or reads more than it shows.
func TestReleasesListPageCost(t *testing.T) {
	fs := newStore(t)
	rels := seed(t, fs, seedSpec{n: 120, base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Minute})
	mid := want(rels, func(*registry.Release) bool { return true })[60]
	for _, c := range []struct {
		name     string
		req      protocol.ReleasesListRequest
		maxGets  int64
		released int
	}{
		{"stream", protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/a"}, Limit: 10}, 20, 10},
		{"environment from a cursor", protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: "acme", Environment: "prod"}, Limit: 10, Cursor: mid}, 30, 10},
	} {
		s := &countingStore{Store: fs}
		resp, err := registry.New(s, registry.Options{}).ReleasesList(context.Background(), &c.req)
		if err != nil || len(resp.Releases) != c.released || resp.NextCursor == "" {
			t.Fatalf("%s: %d releases, cursor %q, %v", c.name, len(resp.Releases), resp.NextCursor, err)
		}
		if s.lists.Load() != 0 || s.listAfters.Load() != 1 || s.gets.Load() > c.maxGets {
			t.Fatalf("%s: %d whole listings, %d ordered listings, %d reads for a page of %d", c.name, s.lists.Load(), s.listAfters.Load(), s.gets.Load(), c.released)
		}
	}
}

// A cursor is a release id: any other is refused, and a page from a cursor
// holds only older releases.
func TestReleasesListCursor(t *testing.T) {
	s := newStore(t)
	rels := seed(t, s, seedSpec{n: 9, base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Minute})
	r := registry.New(s, registry.Options{})
	all := want(rels, func(*registry.Release) bool { return true })
	env := protocol.TargetConfig{Workspace: "acme", Environment: "prod"}
	resp, err := r.ReleasesList(context.Background(), &protocol.ReleasesListRequest{Target: env, Cursor: all[3]})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range resp.Releases {
		got = append(got, e.ReleaseID)
	}
	if !slices.Equal(got, all[4:]) || resp.NextCursor != "" {
		t.Fatalf("after %s: %v, want %v", all[3], got, all[4:])
	}
	// A release id that is not in the registry still orders the listing.
	newer := registry.NewReleaseID(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if got, _ := listAll(t, r, protocol.ReleasesListRequest{Target: env, Cursor: newer}); !slices.Equal(got, all) {
		t.Fatalf("after a future id: %v", got)
	}
	for _, bad := range []string{"x", "rel_", "rel_" + strings.Repeat("8", 26), "../../etc"} {
		_, err := r.ReleasesList(context.Background(), &protocol.ReleasesListRequest{Target: env, Cursor: bad})
		if registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Fatalf("cursor %q: %v", bad, err)
		}
	}
}

// The capabilities announce releases.list.
func TestReleasesListCapability(t *testing.T) {
	if !registry.New(newStore(t), registry.Options{}).Capabilities().Features.ReleasesList {
		t.Fatal("releases_list not announced")
	}
}

// Releases recorded before the listing index (no list objects, no marker)
// are indexed a bounded batch per call: the calls before the last answer a
// retryable error saying how far it got, then everything is listed.
func TestReleasesListBackfillInBatches(t *testing.T) {
	s := newStore(t)
	rels := seed(t, s, seedSpec{n: 25, base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Minute})
	ctx := context.Background()
	ents, err := s.List(ctx, "streams/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := s.Delete(ctx, e.Key); err != nil {
			t.Fatal(err)
		}
	}
	defer registry.SetBackfillBatch(10)()
	r := registry.New(s, registry.Options{})
	req := protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: "acme", Environment: "prod"}, Limit: 100}
	for _, done := range []string{"10 of 25", "20 of 25"} {
		_, err := r.ReleasesList(ctx, &req)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeServerError || !pe.Retryable || !strings.Contains(pe.Message, done) {
			t.Fatalf("want a retryable error saying %q, got %v", done, err)
		}
	}
	if got, _ := listAll(t, r, req); !slices.Equal(got, want(rels, func(*registry.Release) bool { return true })) {
		t.Fatalf("after indexing: %d releases", len(got))
	}
	if _, err := s.Head(ctx, "streams/acme/prod/@all/listing.json"); err != nil {
		t.Fatalf("marker: %v", err)
	}
}
