package registrytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// ReadLog reads the whole release log of tgt's stream through log.read,
// limit records a page.
func ReadLog(t testing.TB, e *Env, tgt protocol.TargetConfig, limit int) (*protocol.LogHead, []protocol.LogRecord) {
	t.Helper()
	var head *protocol.LogHead
	var recs []protocol.LogRecord
	req := protocol.LogReadRequest{Target: tgt, Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("log.read never ends")
		}
		resp, err := e.A.LogRead(ctxT(t), &req)
		if err != nil {
			t.Fatalf("log.read: %v", err)
		}
		if pages == 0 {
			head = resp.Head
		}
		recs = append(recs, resp.Records...)
		if resp.NextCursor == "" {
			return head, recs
		}
		req.Cursor = resp.NextCursor
	}
}

// VerifyLog verifies tgt's stream the way `epack log verify` does: the
// chain from log.read, then every blob it names through blobs.check.
func VerifyLog(t testing.TB, e *Env, tgt protocol.TargetConfig) *registry.ChainReport {
	t.Helper()
	head, recs := ReadLog(t, e, tgt, 7)
	rep := registry.VerifyChain(tgt.Stream, head, recs)
	refs := rep.BlobRefs()
	for len(refs) > 0 {
		n := min(len(refs), protocol.MaxBlobsPerCheck)
		resp, err := e.A.BlobsCheck(ctxT(t), &protocol.BlobsCheckRequest{Target: tgt, Blobs: refs[:n]})
		if err != nil {
			t.Fatalf("blobs.check: %v", err)
		}
		if len(resp.Blobs) == 0 {
			t.Fatal("blobs.check answered nothing")
		}
		for _, st := range resp.Blobs {
			rep.AddBlobStatus(st)
		}
		refs = refs[len(resp.Blobs):]
	}
	return rep
}

// wantClean fails unless rep found no problem and holds n records.
func wantClean(t testing.TB, rep *registry.ChainReport, n int) {
	t.Helper()
	if !rep.OK() || len(rep.Chain) != n {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Fatalf("log of %s: %d records, want %d, problems: %s", rep.Stream, len(rep.Chain), n, b)
	}
	for i, c := range rep.Chain {
		if c.Seq != int64(i+1) {
			t.Fatalf("chain[%d] has seq %d", i, c.Seq)
		}
	}
}

// wantProblem fails unless rep has a problem of kind naming record.
func wantProblem(t testing.TB, rep *registry.ChainReport, kind, record string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Kind == kind && (record == "" || p.Record == record || p.ReleaseID == record) {
			return
		}
	}
	b, _ := json.MarshalIndent(rep.Problems, "", "  ")
	t.Fatalf("no %s problem naming %q: %s", kind, record, b)
}

// currentKey is where the current copy of release id of tgt's stream is.
func currentKey(tgt protocol.TargetConfig, id string) string {
	return path.Join("streams", registry.EscapeName(tgt.Workspace), registry.EscapeName(tgt.Environment), registry.EscapeName(tgt.Stream), "current", id+".json")
}

// pushErr pushes p and returns the error of push.prepare or push.finalize.
func pushErr(t testing.TB, e *Env, tgt protocol.TargetConfig, p Pack, labels ...string) error {
	t.Helper()
	prep, err := e.A.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{
		Remote: "origin", Target: tgt, Pack: p.Info(),
		Release: protocol.ReleaseInfo{Labels: labels, Notes: "n", BuildContext: map[string]string{"git_sha": "abc"}},
	})
	if err != nil {
		return err
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := UploadRaw(t, prep.Upload, p.Data, e.HeadersOverHTTP); err != nil {
			return err
		}
	}
	_, err = e.A.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{
		Remote: "origin", Target: tgt,
		Pack:          protocol.PackInfo{Path: p.Path, Digest: p.PackDigest, SizeBytes: int64(len(p.Data))},
		FinalizeToken: prep.FinalizeToken,
	})
	return err
}

func recordsDir(tgt protocol.TargetConfig) string {
	return path.Join("releases", registry.EscapeName(tgt.Workspace), registry.EscapeName(tgt.Environment), registry.EscapeName(tgt.Stream))
}

// overwrite replaces an object behind the registry's back.
func (e *Env) overwrite(t testing.TB, key string, data []byte) {
	t.Helper()
	if e.Overwrite != nil {
		e.Overwrite(t, key, data)
		return
	}
	if err := e.Store.Put(ctxT(t), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("overwriting %s: %v", key, err)
	}
}

// remove deletes an object behind the registry's back.
func (e *Env) remove(t testing.TB, key string) {
	t.Helper()
	if e.Remove != nil {
		e.Remove(t, key)
		return
	}
	if err := e.Store.Delete(ctxT(t), key); err != nil {
		t.Fatalf("removing %s: %v", key, err)
	}
}

func (e *Env) get(t testing.TB, key string) []byte {
	t.Helper()
	data, _, err := e.Store.Get(ctxT(t), key, 16<<20)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data
}

// Log: pushes into one stream form one chain — records in order, each
// hashing the one before, a re-push appending a record — that verifies
// clean; push.finalize tells each record's place; log.streams lists the
// streams; paging reads everything.
func Log(t *testing.T, e *Env) {
	dir := t.TempDir()
	var fins []*protocol.PushFinalizeResponse
	for i := range 3 {
		_, f := Push(t, e, target, MakePack(t, dir, fmt.Sprintf("l%d.epack", i), fmt.Sprintf("log-%d", i)), fmt.Sprintf("v0.%d", i))
		fins = append(fins, f)
	}
	p0 := MakePack(t, dir, "l0.epack", "log-0")
	prep, again := Push(t, e, target, p0, "again")
	fins = append(fins, again)
	// A retried finalize answers the same and appends nothing.
	retried, err := e.A.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Remote: "origin", Target: target,
		Pack: protocol.PackInfo{Path: p0.Path, Digest: p0.PackDigest, SizeBytes: int64(len(p0.Data))}, FinalizeToken: prep.FinalizeToken})
	if err != nil || retried.Release.ReleaseID != again.Release.ReleaseID || retried.Release.Log == nil || *retried.Release.Log != *again.Release.Log {
		t.Fatalf("retried finalize: %+v %v, first %+v", retried, err, again)
	}
	other := target
	other.Stream = "acme/log-other"
	Push(t, e, other, MakePack(t, dir, "o.epack", "log-other"))

	rep := VerifyLog(t, e, target)
	wantClean(t, rep, 4)
	for i, f := range fins {
		pos := f.Release.Log
		c := rep.Chain[i]
		if pos == nil || pos.Check() != nil || pos.Sequence != int64(i+1) || pos.RecordSHA256 != "sha256:"+c.SHA256 || pos.Record != c.Record || pos.Stream != target.Stream {
			t.Fatalf("push %d: log position %+v, chain has %+v", i, pos, c)
		}
		if msg := registry.CheckReceipt(rep, f.Release.ReleaseID, pos); msg != "" {
			t.Fatalf("receipt of push %d: %s", i, msg)
		}
	}
	if c := rep.Chain[3]; c.Kind != registry.RecordUpdate || c.ReleaseID != fins[0].Release.ReleaseID || !slices.Equal(c.Labels, []string{"v0.0", "again"}) {
		t.Fatalf("re-push record: %+v", c)
	}
	if rep.Chain[0].Kind != registry.RecordRelease || rep.Head.Sequence != 4 {
		t.Fatalf("first record %+v, head %+v", rep.Chain[0], rep.Head)
	}
	// Every record is canonical JSON naming the one before.
	head, recs := ReadLog(t, e, target, 1)
	if len(recs) != 4 || head == nil || head.Record != rep.Chain[3].Record {
		t.Fatalf("log.read one a page: %d records, head %+v", len(recs), head)
	}
	for _, r := range recs {
		rel, err := registry.ParseRecord(r.Data)
		if err != nil || rel.IsLegacy() {
			t.Fatalf("record %s: %v", r.Name, err)
		}
		if rel.Seq > 1 && rel.PrevSHA256 != rep.Chain[rel.Seq-2].SHA256 {
			t.Fatalf("record %s names %s before it, chain has %s", r.Name, rel.PrevSHA256, rep.Chain[rel.Seq-2].SHA256)
		}
	}
	// Streams of the environment.
	var streams []string
	req := protocol.LogStreamsRequest{Target: protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment}, Limit: 1}
	for range 10 {
		resp, err := e.A.LogStreams(ctxT(t), &req)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, resp.Streams...)
		if resp.NextCursor == "" {
			break
		}
		req.Cursor = resp.NextCursor
	}
	if !slices.Equal(streams, []string{target.Stream, other.Stream}) {
		t.Fatalf("log.streams: %v", streams)
	}
	// Releases and pulls see the state of the newest record.
	pp, err := pull(t, e, target, protocol.PullRef{ReleaseID: fins[0].Release.ReleaseID})
	if err != nil || !slices.Equal(pp.Pack.Labels, []string{"v0.0", "again"}) {
		t.Fatalf("pull after re-push: %+v %v", pp, err)
	}
	checkPrefix(t, e)
}

// LogTamper: three pushes, then each kind of damage behind the registry's
// back is named by verification, and undoing it verifies clean again.
func LogTamper(t *testing.T, e *Env) {
	dir := t.TempDir()
	var ids []string
	var packs []Pack
	for i := range 3 {
		p := MakePack(t, dir, fmt.Sprintf("t%d.epack", i), fmt.Sprintf("tamper-%d", i))
		_, f := Push(t, e, target, p, fmt.Sprintf("v1.%d", i))
		ids = append(ids, f.Release.ReleaseID)
		packs = append(packs, p)
	}
	wantClean(t, VerifyLog(t, e, target), 3)
	rd := recordsDir(target)
	key := func(name string) string { return rd + "/" + name + ".json" }
	mid := e.get(t, key(ids[1]))

	// Deleting the middle record.
	e.remove(t, key(ids[1]))
	rep := VerifyLog(t, e, target)
	wantProblem(t, rep, registry.ProblemMissing, ids[1])
	if len(rep.Chain) != 2 {
		t.Fatalf("after deleting the middle record the walk reached %d records, want 2 (it goes on past the gap)", len(rep.Chain))
	}
	e.overwrite(t, key(ids[1]), mid)
	wantClean(t, VerifyLog(t, e, target), 3)

	// Editing the middle record's labels, canonically.
	rel, err := registry.ParseRecord(mid)
	if err != nil {
		t.Fatal(err)
	}
	rel.Labels = append(rel.Labels, "forged")
	edited, _ := registry.EncodeRecord(rel)
	e.overwrite(t, key(ids[1]), edited)
	rep = VerifyLog(t, e, target)
	wantProblem(t, rep, registry.ProblemAltered, ids[1])
	if len(rep.Problems) != 1 {
		t.Fatalf("an edited label: %+v", rep.Problems)
	}
	// The same edit, not canonical.
	var loose map[string]any
	json.Unmarshal(edited, &loose)
	pretty, _ := json.MarshalIndent(loose, "", "  ")
	e.overwrite(t, key(ids[1]), pretty)
	rep = VerifyLog(t, e, target)
	wantProblem(t, rep, registry.ProblemAltered, ids[1])
	wantProblem(t, rep, registry.ProblemNonCanonical, ids[1])
	e.overwrite(t, key(ids[1]), mid)
	wantClean(t, VerifyLog(t, e, target), 3)

	// Two records swapped.
	first := e.get(t, key(ids[0]))
	e.overwrite(t, key(ids[0]), mid)
	e.overwrite(t, key(ids[1]), first)
	rep = VerifyLog(t, e, target)
	wantProblem(t, rep, registry.ProblemAltered, ids[1])
	wantProblem(t, rep, registry.ProblemReordered, ids[1])
	e.overwrite(t, key(ids[0]), first)
	e.overwrite(t, key(ids[1]), mid)

	// The head's record removed: the head names a missing record.
	last := e.get(t, key(ids[2]))
	e.remove(t, key(ids[2]))
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemHeadMissing, ids[2])
	e.overwrite(t, key(ids[2]), last)

	// A second record with sequence 2: a fork.
	forkRel, _ := registry.ParseRecord(mid)
	forkRel.Kind, forkRel.Labels = registry.RecordUpdate, []string{"fork"}
	forkRel.ReleaseID = ids[0]
	forked, _ := registry.EncodeRecord(forkRel)
	forkName := ids[0] + "/2"
	e.overwrite(t, key(forkName), forked)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemFork, forkName)
	e.remove(t, key(forkName))

	// A record pointing back at a later one: a loop (verification ends).
	r2, _ := registry.ParseRecord(mid)
	r2.PrevRecord, r2.PrevSHA256 = ids[2], registry.SHA256Hex(last)
	looped, _ := registry.EncodeRecord(r2)
	e.overwrite(t, key(ids[1]), looped)
	rep = VerifyLog(t, e, target)
	wantProblem(t, rep, registry.ProblemAltered, ids[1])
	wantProblem(t, rep, registry.ProblemLoop, ids[2])
	e.overwrite(t, key(ids[1]), mid)
	wantClean(t, VerifyLog(t, e, target), 3)

	// A pack blob removed, then changed.
	bk := "blobs/sha256/" + packs[1].FileHex
	blob := e.get(t, bk)
	e.remove(t, bk)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemBlobMissing, ids[1])
	changed := bytes.Clone(blob)
	changed[len(changed)/2] ^= 1
	e.overwrite(t, bk, changed)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemBlobChanged, ids[1])
	e.overwrite(t, bk, blob)
	wantClean(t, VerifyLog(t, e, target), 3)

	// The current copy of the middle release (what pull, releases and hold
	// read; writable and outside the chain) edited: its labels, then its
	// pack pointed at another release's blob. Pull, releases and a re-push
	// refuse it as tampering (never answering another pack's bytes or
	// writing the forged state into the chain); verification names it.
	ck := currentKey(target, ids[1])
	cur := e.get(t, ck)
	if !bytes.Equal(cur, mid) {
		t.Fatal("the current copy of a release with one record is not that record")
	}
	forged, err := registry.ParseRecord(cur)
	if err != nil {
		t.Fatal(err)
	}
	forged.Labels = []string{"v9.9.9"}
	relabeled, _ := registry.EncodeRecord(forged)
	other, _ := registry.ParseRecord(e.get(t, key(ids[0])))
	forged.FileDigest, forged.SizeBytes, forged.PackDigest, forged.ManifestDigest = other.FileDigest, other.SizeBytes, other.PackDigest, other.ManifestDigest
	repointed, _ := registry.EncodeRecord(forged)
	for _, c := range []struct {
		name string
		data []byte
	}{{"labels", relabeled}, {"pack", repointed}, {"not canonical", append(bytes.Clone(cur), '\n')}} {
		e.overwrite(t, ck, c.data)
		_, err := pull(t, e, target, protocol.PullRef{ReleaseID: ids[1]})
		wantCode(t, err, protocol.CodeConflict, "pull of a release whose current copy was edited ("+c.name+")")
		if !strings.Contains(err.Error(), "current copy of release "+ids[1]+" was altered") {
			t.Fatalf("pull (%s): %v", c.name, err)
		}
		if _, err := pull(t, e, target, protocol.PullRef{Version: "v1.1"}); Code(err) != protocol.CodeConflict {
			t.Fatalf("pull by version (%s): %v", c.name, err)
		}
		_, err = e.A.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: target})
		wantCode(t, err, protocol.CodeConflict, "releases.list with an edited current copy ("+c.name+")")
		wantCode(t, pushErr(t, e, target, packs[1], "again"), protocol.CodeConflict, "re-push of a release whose current copy was edited ("+c.name+")")
		rep := VerifyLog(t, e, target)
		wantProblem(t, rep, registry.ProblemAltered, registry.CurrentPrefix+ids[1])
		if len(rep.Problems) != 1 || rep.Problems[0].ReleaseID != ids[1] || len(rep.Chain) != 3 {
			t.Fatalf("an edited current copy (%s): %+v", c.name, rep.Problems)
		}
		// The other releases still pull.
		if pp, err := pull(t, e, target, protocol.PullRef{ReleaseID: ids[0]}); err != nil || pp.Pack.ReleaseID != ids[0] {
			t.Fatalf("pull of an untouched release: %+v %v", pp, err)
		}
	}
	// A current copy rolled back to an older record of its release, and one
	// made up for a release the log does not have.
	e.overwrite(t, ck, cur)
	Push(t, e, target, packs[1], "again")
	e.overwrite(t, ck, cur)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemAltered, registry.CurrentPrefix+ids[1])
	e.overwrite(t, ck, e.get(t, key(ids[1]+"/4")))
	wantClean(t, VerifyLog(t, e, target), 4)
	fakeID := registry.NewReleaseID(time.Now())
	fake, _ := registry.ParseRecord(cur)
	fake.ReleaseID = fakeID
	fb, _ := registry.EncodeRecord(fake)
	e.overwrite(t, currentKey(target, fakeID), fb)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemAltered, registry.CurrentPrefix+fakeID)
	e.remove(t, currentKey(target, fakeID))
	wantClean(t, VerifyLog(t, e, target), 4)
	if pp, err := pull(t, e, target, protocol.PullRef{ReleaseID: ids[1]}); err != nil || !slices.Equal(pp.Pack.Labels, []string{"v1.1", "again"}) || pp.Pack.Digest != "sha256:"+packs[1].FileHex || pp.Pack.SizeBytes != int64(len(packs[1].Data)) {
		t.Fatalf("pull once the current copy is restored: %+v %v", pp, err)
	}
	if got := ListAll(t, e, protocol.ReleasesListRequest{Target: target}, 50); len(got) != 3 {
		t.Fatalf("releases once restored: %v", releaseIDs(got))
	}

	// Junk in the records folder is named, never followed.
	e.overwrite(t, rd+"/notes.txt", []byte("hello"))
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemMalformed, "notes.txt")
	e.remove(t, rd+"/notes.txt")
	wantClean(t, VerifyLog(t, e, target), 4)
}

// LogLegacy: records written before the log (no log fields) keep working,
// are reported while their stream has no log, are adopted by the stream's
// first record, and are checked from then on.
func LogLegacy(t *testing.T, e *Env) {
	dir := t.TempDir()
	rd := recordsDir(target)
	var ids []string
	for i := range 2 {
		p := MakePack(t, dir, fmt.Sprintf("g%d.epack", i), fmt.Sprintf("legacy-log-%d", i))
		_, f := Push(t, e, target, p, fmt.Sprintf("v3.%d", i))
		ids = append(ids, f.Release.ReleaseID)
	}
	// Make the stream what a registry from before the log holds: records
	// without log fields, no head, no current copies.
	for _, id := range ids {
		rel, err := registry.ParseRecord(e.get(t, rd+"/"+id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		rel.Log, rel.Kind, rel.Seq, rel.PrevRecord, rel.PrevSHA256, rel.RecordedAt, rel.Legacy = 0, "", 0, "", "", time.Time{}, nil
		b, _ := json.MarshalIndent(rel, "", "  ")
		e.overwrite(t, rd+"/"+id+".json", b)
	}
	ents, _ := e.Store.List(ctxT(t), "streams/", 0)
	for _, en := range ents {
		if strings.HasSuffix(en.Key, "/head.json") || strings.Contains(en.Key, "/current/") {
			e.remove(t, en.Key)
		}
	}
	rep := VerifyLog(t, e, target)
	if !rep.OK() || len(rep.Chain) != 0 || !slices.Equal(rep.Legacy, ids) {
		t.Fatalf("legacy stream: %+v", rep)
	}
	// Legacy releases still pull and list.
	if pp, err := pull(t, e, target, protocol.PullRef{Version: "v3.0"}); err != nil || pp.Pack.ReleaseID != ids[0] {
		t.Fatalf("pull a legacy release: %+v %v", pp, err)
	}
	if got := ListAll(t, e, protocol.ReleasesListRequest{Target: target}, 50); len(got) != 2 {
		t.Fatalf("legacy releases listed: %v", releaseIDs(got))
	}
	// The stream's first new push adopts them.
	_, f := Push(t, e, target, MakePack(t, dir, "g2.epack", "legacy-log-2"), "v3.2")
	rep = VerifyLog(t, e, target)
	wantClean(t, rep, 1)
	if len(rep.Legacy) != 0 || f.Release.Log.Sequence != 1 {
		t.Fatalf("after the first push: legacy %v, position %+v", rep.Legacy, f.Release.Log)
	}
	first, _ := registry.ParseRecord(e.get(t, rd+"/"+f.Release.ReleaseID+".json"))
	if len(first.Legacy) != 2 || first.Legacy[0].ReleaseID != ids[0] {
		t.Fatalf("adopted: %+v", first.Legacy)
	}
	// A re-push of a legacy release appends its first record of the log.
	Push(t, e, target, MakePack(t, dir, "g0.epack", "legacy-log-0"), "later")
	rep = VerifyLog(t, e, target)
	wantClean(t, rep, 2)
	if c := rep.Chain[1]; c.Kind != registry.RecordUpdate || c.ReleaseID != ids[0] || !slices.Equal(c.Labels, []string{"v3.0", "later"}) {
		t.Fatalf("re-push of a legacy release: %+v", c)
	}
	// An adopted legacy record altered, and one added after the log began.
	old := e.get(t, rd+"/"+ids[1]+".json")
	e.overwrite(t, rd+"/"+ids[1]+".json", append(bytes.Clone(old), ' '))
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemLegacy, ids[1])
	e.overwrite(t, rd+"/"+ids[1]+".json", old)
	fake := registry.Release{ReleaseID: registry.NewReleaseID(time.Now()), Stream: target.Stream, FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 5, CreatedAt: time.Now().UTC()}
	b, _ := json.Marshal(fake)
	e.overwrite(t, rd+"/"+fake.ReleaseID+".json", b)
	wantProblem(t, VerifyLog(t, e, target), registry.ProblemUnchained, fake.ReleaseID)
	e.remove(t, rd+"/"+fake.ReleaseID+".json")
	wantClean(t, VerifyLog(t, e, target), 2)
}
