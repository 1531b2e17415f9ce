package fsstore_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
)

// ListAfter lists exactly what a sorted List filtered by "after" gives,
// folders and files side by side ("a/…" sorts after "a-b" but before "a0"),
// from any starting point and with any limit.
func TestListAfterMatchesSortedList(t *testing.T) {
	s, err := fsstore.New(filepath.Join(t.TempDir(), "reg"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "a-b", "a0", "b", "B", "ab", "a_", "z9", "m.json"}
	var keys []string
	for len(keys) < 120 {
		n := 1 + rng.IntN(3)
		parts := []string{"p"}
		for i := 0; i < n; i++ {
			parts = append(parts, segs[rng.IntN(len(segs))])
		}
		k := strings.Join(parts, "/")
		if err := s.CreateIfAbsent(ctx, k, []byte("x")); err == nil {
			keys = append(keys, k)
		}
	}
	// Things ListAfter must not report: dot files, symbolic links, keys
	// outside the prefix.
	os.WriteFile(filepath.Join(s.Root(), "p", ".tmp"), []byte("t"), 0o644)
	os.Symlink(filepath.Join(s.Root(), "p", "a"), filepath.Join(s.Root(), "p", "link"))
	s.CreateIfAbsent(ctx, "q/a", []byte("x"))

	all, err := s.List(ctx, "p/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var sorted []string
	for _, e := range all {
		sorted = append(sorted, e.Key)
	}
	slices.Sort(sorted)
	if len(sorted) != len(keys) {
		t.Fatalf("List found %d keys, created %d", len(sorted), len(keys))
	}
	afters := []string{"", "p/", "p/a", "p/a/", "p/a-b", "p/a/zz", "p/zz", "p/B/a/a", "o", "q"}
	for i := 0; i < 40; i++ {
		afters = append(afters, sorted[rng.IntN(len(sorted))])
	}
	for _, after := range afters {
		for _, limit := range []int{1, 3, 50, 1000} {
			var want []string
			for _, k := range sorted {
				if k > after && len(want) < limit {
					want = append(want, k)
				}
			}
			got, err := s.ListAfter(ctx, "p/", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, e := range got {
				gotKeys = append(gotKeys, e.Key)
				if e.Size != 1 {
					t.Fatalf("%s: size %d", e.Key, e.Size)
				}
			}
			if !slices.Equal(gotKeys, want) {
				t.Fatalf("after %q limit %d:\n got %v\nwant %v", after, limit, gotKeys, want)
			}
		}
	}
	if got, err := s.ListAfter(ctx, "missing/", "", 5); err != nil || len(got) != 0 {
		t.Fatalf("missing prefix: %v %v", got, err)
	}
	for _, bad := range []string{"../", "/abs/", "p/../../"} {
		if _, err := s.ListAfter(ctx, bad, "", 5); err == nil {
			t.Fatalf("prefix %q accepted", bad)
		}
	}
	var _ registry.OrderedLister = s
}

// A symbolic link on the way to the prefix is refused, not followed.
func TestListAfterRefusesLinkedPrefix(t *testing.T) {
	top := t.TempDir()
	s, err := fsstore.New(filepath.Join(top, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(top, "outside")
	os.MkdirAll(filepath.Join(outside, "x"), 0o755)
	os.WriteFile(filepath.Join(outside, "x", "secret"), []byte("s"), 0o644)
	os.Symlink(outside, filepath.Join(s.Root(), "streams"))
	got, err := s.ListAfter(context.Background(), "streams/x/", "", 10)
	if err == nil && len(got) != 0 {
		t.Fatalf("listed through a link: %v", got)
	}
}
