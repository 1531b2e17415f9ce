package registry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchReleases is how many releases BenchmarkReleasesList seeds.
const benchReleases = 100_000

// bench is the seeded registry, made once per test process (the harness
// calls a benchmark several times). EPACK_BENCH_DIR names the folder it
// goes in (default: the system temp folder); a tmpfs such as /dev/shm makes
// seeding, not listing, faster.
var bench struct {
	once  sync.Once
	dir   string
	store *fsstore.Store
	rels  []*registry.Release
	seedT time.Duration
	err   error
}

func benchStore(b *testing.B) (*fsstore.Store, []*registry.Release) {
	bench.once.Do(func() {
		bench.dir, bench.err = os.MkdirTemp(os.Getenv("EPACK_BENCH_DIR"), "epack-bench-releases-")
		if bench.err != nil {
			return
		}
		bench.store, bench.err = fsstore.New(filepath.Join(bench.dir, "reg"))
		if bench.err != nil {
			return
		}
		start := time.Now()
		bench.rels = seed(b, bench.store, seedSpec{n: benchReleases, base: time.Now().Add(-benchReleases * time.Second), step: time.Second})
		bench.seedT = time.Since(start)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.store, bench.rels
}

// BenchmarkReleasesList: one page of 50 releases of a filesystem registry
// holding 100,000 (one a second over 28 hours, in two streams, every third
// "monthly"), created straight
// through the store. A page reads one ordered listing and 50 records (100
// reads environment-wide), whatever the registry's size or where the page
// starts.
//
//	EPACK_BENCH_DIR=/dev/shm go test ./registry -run '^$' -bench 'ReleasesList' -benchtime 200x
func BenchmarkReleasesList(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds 100,000 releases")
	}
	s, rels := benchStore(b)
	b.Logf("seeded %d releases in %v", len(rels), bench.seedT.Round(time.Millisecond))
	r := registry.New(s, registry.Options{})
	ws := protocol.TargetConfig{Workspace: "acme", Environment: "prod"}
	stream := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/a"}
	middle := rels[len(rels)/2].ReleaseID
	for _, c := range []struct {
		name string
		req  protocol.ReleasesListRequest
		r    *registry.Registry
	}{
		{"stream/first-page", protocol.ReleasesListRequest{Target: stream, Limit: 50}, r},
		{"stream/middle-page", protocol.ReleasesListRequest{Target: stream, Limit: 50, Cursor: middle}, r},
		{"environment/first-page", protocol.ReleasesListRequest{Target: ws, Limit: 50}, r},
		{"environment/label", protocol.ReleasesListRequest{Target: ws, Limit: 50, Labels: []string{"monthly"}}, r},
		// For comparison: the same page from a store without ordered
		// listing, which lists the stream's 50,000 keys and sorts them.
		{"stream/first-page-whole-listing", protocol.ReleasesListRequest{Target: stream, Limit: 50}, registry.New(plainStore{s}, registry.Options{})},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := c.r
			ctx := context.Background()
			for b.Loop() {
				resp, err := r.ReleasesList(ctx, &c.req)
				if err != nil {
					b.Fatal(err)
				}
				if len(resp.Releases) != 50 || resp.NextCursor == "" {
					b.Fatal(fmt.Sprintf("page of %d, cursor %q", len(resp.Releases), resp.NextCursor))
				}
			}
		})
	}
}
