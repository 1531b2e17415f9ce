package registry_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// pushStreams pushes one pack to each stream of the target's workspace
// and environment and returns the registry.
func pushStreams(t *testing.T, streams ...string) (*registrytest.Env, *registry.Registry) {
	t.Helper()
	e, reg := suiteEnv(t, registry.Options{})
	dir := t.TempDir()
	for i, s := range streams {
		tgt := faultTarget
		tgt.Stream = s
		registrytest.Push(t, e, tgt, registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), "streams-"+s))
	}
	return e, reg
}

// log.streams pages hold at most limit streams, in key order, and the
// cursors go through every stream once.
func TestLogStreamsPages(t *testing.T) {
	// Escaped, these hold %20, %2F, %3A and %40: every digit and letter
	// position of an escape is decoded.
	streams := []string{"acme/a b", "acme/a:b", "acme/a@b", "acme/c"}
	e, reg := pushStreams(t, streams...)
	// Folders no push makes are never listed as streams: an escape cut
	// short, one with a character that is no hex digit, one in lower case
	// (not how names are escaped) and an object right in the environment.
	for _, key := range []string{"ab%4/x.json", "ab%/x.json", "ab%4G/x.json", "acme%2fz/x.json", "stray.json"} {
		if err := e.Store.CreateIfAbsent(context.Background(), "releases/acme/prod/"+key, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 2, 4} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("limit %d: more than 10 pages", limit)
			}
			resp, err := reg.LogStreams(context.Background(), &protocol.LogStreamsRequest{
				Target: protocol.TargetConfig{Workspace: faultTarget.Workspace, Environment: faultTarget.Environment}, Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Streams) > limit {
				t.Fatalf("limit %d: a page of %d streams %v", limit, len(resp.Streams), resp.Streams)
			}
			got = append(got, resp.Streams...)
			if resp.NextCursor == "" {
				break
			}
			cursor = resp.NextCursor
		}
		if !slices.Equal(got, streams) {
			t.Fatalf("limit %d: streams %v, want %v", limit, got, streams)
		}
	}
}

// readLog reads every page of the stream's records with limit; it returns
// the pages' record names.
func readLog(t *testing.T, reg *registry.Registry, tgt protocol.TargetConfig, limit int) [][]string {
	t.Helper()
	var pages [][]string
	cursor := ""
	for {
		if len(pages) > 10 {
			t.Fatalf("limit %d: more than 10 pages", limit)
		}
		resp, err := reg.LogRead(context.Background(), &protocol.LogReadRequest{Target: tgt, Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range resp.Records {
			if len(r.Data) == 0 || r.Omitted != "" {
				t.Fatalf("record %s without its bytes (%s)", r.Name, r.Omitted)
			}
			names = append(names, r.Name)
		}
		pages = append(pages, names)
		if resp.NextCursor == "" {
			return pages
		}
		cursor = resp.NextCursor
	}
}

// log.read pages hold at most limit records and at most logPageBytes of
// them (but always one); a page that ends the stream has no cursor.
func TestLogReadPages(t *testing.T) {
	e, reg := suiteEnv(t, registry.Options{})
	dir := t.TempDir()
	var sizes []int
	for i := 0; i < 3; i++ {
		_, fin := registrytest.Push(t, e, faultTarget, registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), fmt.Sprintf("read-%d", i)))
		if fin.Release.Log == nil {
			t.Fatal("no log position")
		}
	}
	all := readLog(t, reg, faultTarget, 0)
	if len(all) != 1 || len(all[0]) != 3 {
		t.Fatalf("default page: %v", all)
	}
	resp, err := reg.LogRead(context.Background(), &protocol.LogReadRequest{Target: faultTarget})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Records {
		sizes = append(sizes, len(r.Data))
	}
	for _, tc := range []struct {
		limit, pageBytes int
		want             string
	}{
		{limit: 3, want: "[[a b c]]"},
		{limit: 2, want: "[[a b] [c]]"},
		{limit: 1, want: "[[a] [b] [c]]"},
		{limit: 3, pageBytes: sizes[0] + sizes[1], want: "[[a b] [c]]"},
		{limit: 3, pageBytes: sizes[0] + sizes[1] - 1, want: "[[a] [b] [c]]"},
		{limit: 3, pageBytes: 1, want: "[[a] [b] [c]]"},
	} {
		restore := func() {}
		if tc.pageBytes > 0 {
			restore = registry.SetLogPageBytes(tc.pageBytes)
		}
		pages := readLog(t, reg, faultTarget, tc.limit)
		restore()
		letters := map[string]string{all[0][0]: "a", all[0][1]: "b", all[0][2]: "c"}
		var named [][]string
		for _, p := range pages {
			var ln []string
			for _, n := range p {
				ln = append(ln, letters[n])
			}
			named = append(named, ln)
		}
		if got := fmt.Sprint(named); got != tc.want {
			t.Errorf("limit %d, page bytes %d: pages %s, want %s", tc.limit, tc.pageBytes, got, tc.want)
		}
	}
}

// blobs.check answers for at least the first blob however long hashing
// takes, and for the others while its time budget lasts.
func TestBlobsCheckBudget(t *testing.T) {
	e, reg := suiteEnv(t, registry.Options{})
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "budget")
	registrytest.Push(t, e, faultTarget, p)
	req := &protocol.BlobsCheckRequest{Target: faultTarget, Blobs: []protocol.BlobRef{
		{Digest: p.FileDigest, SizeBytes: int64(len(p.Data))},
		{Digest: "sha256:" + strings.Repeat("0", 64), SizeBytes: 1},
	}}
	for _, tc := range []struct {
		budget time.Duration
		want   []string
	}{
		{30 * time.Second, []string{protocol.BlobOK, protocol.BlobMissing}},
		{-time.Second, []string{protocol.BlobOK}},
	} {
		restore := registry.SetBlobsCheckBudget(tc.budget)
		resp, err := reg.BlobsCheck(context.Background(), req)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range resp.Blobs {
			got = append(got, b.Status)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("budget %v: statuses %v, want %v", tc.budget, got, tc.want)
		}
	}
}
