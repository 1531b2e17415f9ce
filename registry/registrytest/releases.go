package registrytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// PushWith runs prepare → upload → finalize with the given release
// metadata and returns the finalize answer or the first error.
func PushWith(t testing.TB, e *Env, tgt protocol.TargetConfig, p Pack, ri protocol.ReleaseInfo) (*protocol.PushFinalizeResponse, error) {
	t.Helper()
	ctx := ctxT(t)
	prep, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Remote: "origin", Target: tgt, Pack: p.Info(), Release: ri})
	if err != nil {
		return nil, err
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := UploadRaw(t, prep.Upload, p.Data, e.HeadersOverHTTP); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	return e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{
		Remote: "origin", Target: tgt,
		Pack:          protocol.PackInfo{Path: p.Path, Digest: p.PackDigest, SizeBytes: int64(len(p.Data))},
		FinalizeToken: prep.FinalizeToken,
	})
}

// List runs one releases.list call, failing the test on an error.
func List(t testing.TB, e *Env, req protocol.ReleasesListRequest) *protocol.ReleasesListResponse {
	t.Helper()
	resp, err := e.A.ReleasesList(ctxT(t), &req)
	if err != nil {
		t.Fatalf("releases.list %+v: %v", req, err)
	}
	if resp.Releases == nil {
		t.Fatalf("releases.list %+v: releases is null", req)
	}
	return resp
}

// ListAll follows next_cursor with pages of limit until the listing ends.
func ListAll(t testing.TB, e *Env, req protocol.ReleasesListRequest, limit int) []protocol.ReleaseEntry {
	t.Helper()
	req.Limit = limit
	var out []protocol.ReleaseEntry
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("releases.list %+v: more than 1000 pages", req)
		}
		resp := List(t, e, req)
		if len(resp.Releases) > limit {
			t.Fatalf("page of %d releases for limit %d", len(resp.Releases), limit)
		}
		out = append(out, resp.Releases...)
		if resp.NextCursor == "" {
			return out
		}
		req.Cursor = resp.NextCursor
	}
}

func releaseIDs(rs []protocol.ReleaseEntry) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ReleaseID)
	}
	return out
}

// newestFirst: release ids (ULIDs: creation time first) strictly decrease.
func newestFirst(t testing.TB, what string, rs []protocol.ReleaseEntry) {
	t.Helper()
	for i := 1; i < len(rs); i++ {
		if rs[i].ReleaseID >= rs[i-1].ReleaseID || rs[i].CreatedAt.After(rs[i-1].CreatedAt) {
			t.Fatalf("%s: not newest first: %v", what, releaseIDs(rs))
		}
	}
}

func sortedDesc(s []string) []string {
	out := slices.Sorted(slices.Values(s))
	slices.Reverse(out)
	return out
}

// Releases: releases.list over streams, labels and pages.
func Releases(t *testing.T, e *Env) {
	env := protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment}
	if resp := List(t, e, protocol.ReleasesListRequest{Target: env}); len(resp.Releases) != 0 || resp.NextCursor != "" {
		t.Fatalf("empty registry lists %+v", resp)
	}
	dir := t.TempDir()
	other := target
	other.Stream = "acme/other"
	p1 := MakePack(t, dir, "one.epack", "list-one")
	p2 := MakePack(t, dir, "two.epack", "list-two")
	p3 := MakePack(t, dir, "three.epack", "list-three")
	_, f1 := Push(t, e, target, p1, "v1.0.0", "monthly")
	_, f2 := Push(t, e, other, p2, "v1.0.0") // another stream: its own v1.0.0
	_, f3 := Push(t, e, target, p3, "version:1.1.0")
	_, f4 := Push(t, e, other, p1) // the same pack in another stream: another release
	rel := map[string]struct {
		p      Pack
		stream string
		labels []string
		ver    string
	}{
		f1.Release.ReleaseID: {p1, target.Stream, []string{"v1.0.0", "monthly"}, "v1.0.0"},
		f2.Release.ReleaseID: {p2, other.Stream, []string{"v1.0.0"}, "v1.0.0"},
		f3.Release.ReleaseID: {p3, target.Stream, []string{"version:1.1.0"}, "1.1.0"},
		f4.Release.ReleaseID: {p1, other.Stream, nil, ""},
	}
	all := sortedDesc([]string{f1.Release.ReleaseID, f2.Release.ReleaseID, f3.Release.ReleaseID, f4.Release.ReleaseID})

	got := List(t, e, protocol.ReleasesListRequest{Target: env})
	if !slices.Equal(releaseIDs(got.Releases), all) || got.NextCursor != "" {
		t.Fatalf("every release: %v (cursor %q), want %v", releaseIDs(got.Releases), got.NextCursor, all)
	}
	newestFirst(t, "every release", got.Releases)
	for _, r := range got.Releases {
		w := rel[r.ReleaseID]
		if r.Stream != w.stream || r.FileDigest != w.p.FileDigest || r.PackDigest != w.p.PackDigest || r.SizeBytes != int64(len(w.p.Data)) ||
			!slices.Equal(r.Labels, w.labels) || r.Version != w.ver || r.CreatedAt.IsZero() || !strings.HasSuffix(r.CanonicalRef, "@"+r.ReleaseID) {
			t.Fatalf("release %s listed as %+v, want %+v", r.ReleaseID, r, w)
		}
	}

	for _, c := range []struct {
		name string
		req  protocol.ReleasesListRequest
		want []string
	}{
		{"one stream", protocol.ReleasesListRequest{Target: target}, sortedDesc([]string{f1.Release.ReleaseID, f3.Release.ReleaseID})},
		{"other stream", protocol.ReleasesListRequest{Target: other}, sortedDesc([]string{f2.Release.ReleaseID, f4.Release.ReleaseID})},
		{"a label", protocol.ReleasesListRequest{Target: env, Labels: []string{"monthly"}}, []string{f1.Release.ReleaseID}},
		{"a version label everywhere", protocol.ReleasesListRequest{Target: env, Labels: []string{"v1.0.0"}}, sortedDesc([]string{f1.Release.ReleaseID, f2.Release.ReleaseID})},
		{"a version label in a stream", protocol.ReleasesListRequest{Target: other, Labels: []string{"v1.0.0"}}, []string{f2.Release.ReleaseID}},
		{"two labels", protocol.ReleasesListRequest{Target: env, Labels: []string{"v1.0.0", "monthly"}}, []string{f1.Release.ReleaseID}},
		{"two labels, one missing", protocol.ReleasesListRequest{Target: env, Labels: []string{"monthly", "nope"}}, nil},
		{"an unknown label", protocol.ReleasesListRequest{Target: env, Labels: []string{"nope"}}, nil},
		{"an unknown stream", protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment, Stream: "acme/none"}}, nil},
		{"an empty workspace", protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: "nobody"}}, nil},
	} {
		if got := releaseIDs(ListAll(t, e, c.req, 50)); !slices.Equal(got, c.want) && (len(got) != 0 || len(c.want) != 0) {
			t.Fatalf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Pages: every limit gives the same releases in the same order, and a
	// page is never longer than its limit.
	for _, limit := range []int{1, 2, 3} {
		if got := releaseIDs(ListAll(t, e, protocol.ReleasesListRequest{Target: env}, limit)); !slices.Equal(got, all) {
			t.Fatalf("pages of %d: %v, want %v", limit, got, all)
		}
	}
	page := List(t, e, protocol.ReleasesListRequest{Target: env, Limit: 1})
	if len(page.Releases) != 1 || page.Releases[0].ReleaseID != all[0] || page.NextCursor == "" {
		t.Fatalf("first page of 1: %+v", page)
	}
	last := List(t, e, protocol.ReleasesListRequest{Target: env, Limit: 1, Cursor: all[len(all)-2]})
	if !slices.Equal(releaseIDs(last.Releases), all[len(all)-1:]) || last.NextCursor != "" {
		t.Fatalf("last page: %+v", last)
	}

	// Labels merged by a later push are listed, and found by label.
	Push(t, e, target, p1, "extra")
	got = List(t, e, protocol.ReleasesListRequest{Target: env, Labels: []string{"extra"}})
	if len(got.Releases) != 1 || got.Releases[0].ReleaseID != f1.Release.ReleaseID || !slices.Equal(got.Releases[0].Labels, []string{"v1.0.0", "monthly", "extra"}) {
		t.Fatalf("after merging a label: %+v", got.Releases)
	}

	// A long label (its index folder is a digest of it) is found too.
	long := strings.Repeat("é", 40) // 240 bytes escaped
	Push(t, e, target, p3, long)
	got = List(t, e, protocol.ReleasesListRequest{Target: env, Labels: []string{long}})
	if len(got.Releases) != 1 || got.Releases[0].ReleaseID != f3.Release.ReleaseID {
		t.Fatalf("by a long label: %+v", got.Releases)
	}

	ctx := ctxT(t)
	for _, bad := range []protocol.ReleasesListRequest{
		{Target: env, Limit: -1},
		{Target: env, Limit: protocol.MaxReleasesLimit + 1},
		{Target: env, Cursor: "not-a-cursor"},
		{Target: env, Cursor: "rel_" + strings.Repeat("Z", 26)},
		{Target: protocol.TargetConfig{Workspace: "../x"}},
		{Target: protocol.TargetConfig{Stream: "a/../../b"}},
		{Target: env, Labels: []string{"a/b"}},
		{Target: env, Labels: []string{""}},
	} {
		_, err := e.A.ReleasesList(ctx, &bad)
		wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("releases.list %+v", bad))
	}
	checkPrefix(t, e)
}

// streamKey is the key of a stream object (claims, versions, …).
func streamKey(tgt protocol.TargetConfig, rest ...string) string {
	return path.Join(append([]string{"streams", registry.EscapeName(tgt.Workspace), registry.EscapeName(tgt.Environment), registry.EscapeName(tgt.Stream)}, rest...)...)
}

// snapshot is every release-related object of the registry (releases and
// stream indexes) with its content, to show a refused push changed nothing.
func snapshot(t testing.TB, e *Env) map[string]string {
	t.Helper()
	ctx := ctxT(t)
	out := map[string]string{}
	for _, pre := range []string{"releases/", "streams/"} {
		ents, err := e.Store.List(ctx, pre, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ents {
			data, _, err := e.Store.Get(ctx, en.Key, 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			out[en.Key] = string(data)
		}
	}
	return out
}

func sameSnapshot(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if b, ok := before[k]; !ok {
			t.Fatalf("%s: created %s", what, k)
		} else if b != v {
			t.Fatalf("%s: changed %s:\n%s\n→\n%s", what, k, b, v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Fatalf("%s: removed %s", what, k)
		}
	}
}

func wantConflictNaming(t testing.TB, err error, what, releaseID string) {
	t.Helper()
	wantCode(t, err, protocol.CodeConflict, what)
	if releaseID == "" {
		return
	}
	if !strings.Contains(err.Error(), releaseID) {
		t.Fatalf("%s: the refusal does not name release %s: %v", what, releaseID, err)
	}
	var pe *ProtoError
	var re *protocol.Error
	var action *protocol.Action
	switch {
	case errors.As(err, &pe):
		action = pe.Body.Action
	case errors.As(err, &re):
		action = re.Action
	}
	if action == nil || !strings.Contains(action.Command, releaseID) {
		t.Fatalf("%s: the hint does not name release %s: %+v", what, releaseID, action)
	}
}

// Versions: a version names one pack of a stream for good.
func Versions(t *testing.T, e *Env) {
	dir := t.TempDir()
	p1 := MakePack(t, dir, "one.epack", "ver-one")
	p2 := MakePack(t, dir, "two.epack", "ver-two")
	p3 := MakePack(t, dir, "three.epack", "ver-three")
	_, f1 := Push(t, e, target, p1, "v1.0.0")
	rel1 := f1.Release.ReleaseID

	// Another pack with v1.0.0: refused at prepare, before any upload,
	// naming the release that holds it; nothing changes.
	before := snapshot(t, e)
	_, err := e.A.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Remote: "origin", Target: target, Pack: p2.Info(),
		Release: protocol.ReleaseInfo{Labels: []string{"monthly", "v1.0.0"}}})
	wantConflictNaming(t, err, "prepare of another pack with v1.0.0", rel1)
	sameSnapshot(t, "refused prepare", before, snapshot(t, e))

	// The same pack again with its version (and one more label): the same release.
	_, again := Push(t, e, target, p1, "v1.0.0", "monthly")
	if again.Release.ReleaseID != rel1 {
		t.Fatalf("same pack, same version: release %s, want %s", again.Release.ReleaseID, rel1)
	}
	// Another stream has its own v1.0.0.
	other := target
	other.Stream = "acme/other"
	Push(t, e, other, p2, "v1.0.0")

	// Refused at finalize: p2 prepared with a free v2.0.0, p3 takes it
	// meanwhile; p2's finalize creates nothing and moves nothing.
	ctx := ctxT(t)
	prep, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Remote: "origin", Target: target, Pack: p2.Info(),
		Release: protocol.ReleaseInfo{Labels: []string{"v2.0.0", "late"}}})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := UploadRaw(t, prep.Upload, p2.Data, e.HeadersOverHTTP); err != nil {
			t.Fatal(err)
		}
	}
	_, f3 := Push(t, e, target, p3, "v2.0.0")
	before = snapshot(t, e)
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Remote: "origin", Target: target,
		Pack: protocol.PackInfo{Path: p2.Path, Digest: p2.PackDigest, SizeBytes: int64(len(p2.Data))}, FinalizeToken: prep.FinalizeToken})
	wantConflictNaming(t, err, "finalize of another pack with v2.0.0", f3.Release.ReleaseID)
	sameSnapshot(t, "refused finalize", before, snapshot(t, e))
	pp, err := pull(t, e, target, protocol.PullRef{Version: "v2.0.0"})
	if err != nil || pp.Pack.ReleaseID != f3.Release.ReleaseID {
		t.Fatalf("v2.0.0 → %+v %v, want %s", pp, err, f3.Release.ReleaseID)
	}

	// An existing release cannot take a version another pack holds: its
	// other new labels are not merged either.
	before = snapshot(t, e)
	_, err = PushWith(t, e, target, p1, protocol.ReleaseInfo{Labels: []string{"v2.0.0", "newlabel"}})
	wantConflictNaming(t, err, "an existing release taking v2.0.0", f3.Release.ReleaseID)
	sameSnapshot(t, "refused label merge", before, snapshot(t, e))

	// A release recorded before claims existed holds its version through
	// the version pointer alone.
	if err := e.Store.Delete(ctx, streamKey(target, "claims", registry.EscapeName("v1.0.0")+".json")); err != nil {
		t.Fatal(err)
	}
	_, err = PushWith(t, e, target, p3, protocol.ReleaseInfo{Labels: []string{"v1.0.0"}})
	wantConflictNaming(t, err, "a version held by a pointer only", rel1)

	// A claim whose pack never got the version: refused while fresh (a push
	// is running), taken over once stale.
	nobody := "sha256:" + strings.Repeat("0", 64)
	claim := func(at time.Time) {
		key := streamKey(target, "claims", registry.EscapeName("v3.0.0")+".json")
		_ = e.Store.Delete(ctx, key)
		doc := fmt.Sprintf(`{"version":"v3.0.0","stream":%q,"file_digest":%q,"claimed_at":%q}`, target.Stream, nobody, at.UTC().Format(time.RFC3339))
		if err := e.Store.CreateIfAbsent(ctx, key, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	claim(time.Now())
	_, err = PushWith(t, e, target, p3, protocol.ReleaseInfo{Labels: []string{"v3.0.0"}})
	wantCode(t, err, protocol.CodeConflict, "a version another push is claiming")
	claim(time.Now().Add(-time.Hour))
	f, err := PushWith(t, e, target, p3, protocol.ReleaseInfo{Labels: []string{"v3.0.0"}})
	if err != nil || f.Release.ReleaseID != f3.Release.ReleaseID {
		t.Fatalf("taking over a stale claim: %+v %v", f, err)
	}
	checkPrefix(t, e)
}

// ConcurrentVersion: n pushes of n different packs with one version at
// once: exactly one wins, the others are refused with conflict.
func ConcurrentVersion(t *testing.T, e *Env, n int) {
	dir := t.TempDir()
	packs := make([]Pack, n)
	for i := range packs {
		packs[i] = MakePack(t, dir, fmt.Sprintf("p%02d.epack", i), fmt.Sprintf("race-%d", i))
	}
	fins := make([]*protocol.PushFinalizeResponse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range packs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sub := &captureT{TB: t}
			sub.run(func() {
				fins[i], errs[i] = PushWith(sub, e, target, packs[i], protocol.ReleaseInfo{Labels: []string{"v9.0.0"}})
			})
			if sub.failed != "" {
				errs[i] = errors.New(sub.failed)
			}
		}(i)
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner == "":
			winner = fins[i].Release.ReleaseID
		case err == nil:
			t.Fatalf("two packs got v9.0.0: %s and %s", winner, fins[i].Release.ReleaseID)
		case Code(err) != protocol.CodeConflict:
			t.Fatalf("push %d: %v, want a conflict", i, err)
		}
	}
	if winner == "" {
		t.Fatal("no push got v9.0.0")
	}
	got := ListAll(t, e, protocol.ReleasesListRequest{Target: target, Labels: []string{"v9.0.0"}}, 50)
	if !slices.Equal(releaseIDs(got), []string{winner}) {
		t.Fatalf("releases with v9.0.0: %v, want only %s", releaseIDs(got), winner)
	}
	if all := ListAll(t, e, protocol.ReleasesListRequest{Target: target}, 50); len(all) != 1 {
		t.Fatalf("%d releases, want the winner only: %v", len(all), releaseIDs(all))
	}
	pp, err := pull(t, e, target, protocol.PullRef{Version: "v9.0.0"})
	if err != nil || pp.Pack.ReleaseID != winner {
		t.Fatalf("v9.0.0 → %+v %v, want %s", pp, err, winner)
	}
}

// releaseRecord returns the newest record of release id: the record that
// created it or the latest record appended for it (records are never
// edited).
func releaseRecord(t testing.TB, e *Env, tgt protocol.TargetConfig, id string) registry.Release {
	t.Helper()
	dir := path.Join("releases", registry.EscapeName(tgt.Workspace), registry.EscapeName(tgt.Environment), registry.EscapeName(tgt.Stream))
	keys := []string{dir + "/" + id + ".json"}
	later, err := e.Store.List(ctxT(t), dir+"/"+id+"/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range later {
		keys = append(keys, en.Key)
	}
	var newest registry.Release
	for _, key := range keys {
		var rel registry.Release
		data, _, err := e.Store.Get(ctxT(t), key, 1<<20)
		if err != nil || json.Unmarshal(data, &rel) != nil {
			t.Fatalf("reading %s: %v", key, err)
		}
		if rel.Seq >= newest.Seq {
			newest = rel
		}
	}
	return newest
}

// Notes given on a push of an existing release are added when it has none
// and refused when they differ; never dropped.
func Notes(t *testing.T, e *Env) {
	p := MakePack(t, t.TempDir(), "p.epack", "notes")
	f, err := PushWith(t, e, target, p, protocol.ReleaseInfo{Labels: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	id := f.Release.ReleaseID
	if rel := releaseRecord(t, e, target, id); rel.Notes != "" {
		t.Fatalf("notes %q", rel.Notes)
	}
	if _, err := PushWith(t, e, target, p, protocol.ReleaseInfo{Notes: "first notes"}); err != nil {
		t.Fatalf("adding notes: %v", err)
	}
	if rel := releaseRecord(t, e, target, id); rel.Notes != "first notes" || rel.Kind != registry.RecordUpdate || rel.Seq != 2 {
		t.Fatalf("notes after adding: %+v", rel)
	}
	for _, ri := range []protocol.ReleaseInfo{{Notes: "first notes"}, {}, {Labels: []string{"b"}}} {
		if _, err := PushWith(t, e, target, p, ri); err != nil {
			t.Fatalf("push with %+v: %v", ri, err)
		}
	}
	before := snapshot(t, e)
	_, err = PushWith(t, e, target, p, protocol.ReleaseInfo{Notes: "other notes", Labels: []string{"c"}})
	wantCode(t, err, protocol.CodeConflict, "different notes")
	sameSnapshot(t, "refused notes", before, snapshot(t, e))
	if rel := releaseRecord(t, e, target, id); rel.Notes != "first notes" || !slices.Equal(rel.Labels, []string{"a", "b"}) {
		t.Fatalf("release after refused notes: %+v", rel)
	}
}

// LegacyListing: releases recorded before the listing index existed (no
// list or label objects, no listing marker) are listed, and then indexed.
func LegacyListing(t *testing.T, e *Env) {
	dir := t.TempDir()
	other := target
	other.Stream = "acme/legacy-other"
	var want []string
	for i, tgt := range []protocol.TargetConfig{target, other, target} {
		_, f := Push(t, e, tgt, MakePack(t, dir, fmt.Sprintf("l%d.epack", i), fmt.Sprintf("legacy-%d", i)), "old", fmt.Sprintf("v0.%d", i))
		want = append(want, f.Release.ReleaseID)
	}
	want = sortedDesc(want)
	ctx := ctxT(t)
	ents, err := e.Store.List(ctx, "streams/", 0)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, en := range ents {
		if strings.Contains(en.Key, "/list/") || strings.Contains(en.Key, "/labels/") || strings.HasSuffix(en.Key, "/listing.json") {
			if err := e.Store.Delete(ctx, en.Key); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("no listing objects to remove")
	}
	env := protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment}
	if got := releaseIDs(ListAll(t, e, protocol.ReleasesListRequest{Target: env}, 2)); !slices.Equal(got, want) {
		t.Fatalf("legacy releases: %v, want %v", got, want)
	}
	if got := ListAll(t, e, protocol.ReleasesListRequest{Target: other, Labels: []string{"old"}}, 50); len(got) != 1 || got[0].ReleaseID != want[1] {
		t.Fatalf("legacy releases by label in a stream: %v", releaseIDs(got))
	}
	if _, err := e.Store.Head(ctx, "streams/"+registry.EscapeName(target.Workspace)+"/"+registry.EscapeName(target.Environment)+"/@all/listing.json"); err != nil {
		t.Fatalf("listing marker after indexing: %v", err)
	}
	_, f := Push(t, e, other, MakePack(t, dir, "new.epack", "legacy-new"))
	if got := releaseIDs(ListAll(t, e, protocol.ReleasesListRequest{Target: env}, 50)); len(got) != 4 || got[0] != f.Release.ReleaseID {
		t.Fatalf("after a new push: %v", got)
	}
	checkPrefix(t, e)
}
