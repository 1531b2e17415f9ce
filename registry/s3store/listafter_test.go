package s3store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/registry"
)

// ListAfter against the real server: key order from any starting point,
// within the store's prefix, across more than one ListObjectsV2 page.
func TestListAfter(t *testing.T) {
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	s := newStore(t, env, bucket, testPrefix)
	outside := newStore(t, env, bucket, "elsewhere")
	ctx := context.Background()
	var keys []string
	for i := 0; i < 1100; i++ {
		keys = append(keys, fmt.Sprintf("list/%c/%04d.json", "ab-_"[i%4], i))
	}
	keys = append(keys, "list/a-b", "list/a0") // (a file and a folder of one name cannot coexist on versitygw's posix backend)
	if err := parallelPut(ctx, s, keys); err != nil {
		t.Fatal(err)
	}
	if err := outside.CreateIfAbsent(ctx, "list/zzz", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIfAbsent(ctx, "other/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	var _ registry.OrderedLister = s
	for _, c := range []struct {
		after string
		limit int
	}{{"", 5}, {"", 1050}, {"list/a", 3}, {"list/a-b", 2}, {keys[500], 700}, {keys[len(keys)-1], 10}, {"list/", 1}} {
		var want []string
		for _, k := range keys {
			if k > c.after && len(want) < c.limit {
				want = append(want, k)
			}
		}
		got, err := s.ListAfter(ctx, "list/", c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		var gotKeys []string
		for _, e := range got {
			gotKeys = append(gotKeys, e.Key)
		}
		if !slices.Equal(gotKeys, want) {
			t.Fatalf("after %q limit %d: %d keys %v…, want %d %v…", c.after, c.limit, len(gotKeys), gotKeys[:min(3, len(gotKeys))], len(want), want[:min(3, len(want))])
		}
	}
}

func parallelPut(ctx context.Context, s registry.Store, keys []string) error {
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, 16)
	for _, k := range keys {
		sem <- struct{}{}
		go func(k string) {
			defer func() { <-sem }()
			errs <- s.CreateIfAbsent(ctx, k, []byte("x"))
		}(k)
	}
	for range keys {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
