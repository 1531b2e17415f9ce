package registry_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// chainRec is one encoded record of stream "acme/prod".
type chainRec struct {
	name string
	data []byte
}

func (c chainRec) sum() string { return registry.SHA256Hex(c.data) }

// mkRec encodes a release record of seq after prev (zero chainRec: none).
func mkRec(t *testing.T, seq int64, prev chainRec, id string) chainRec {
	t.Helper()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if id == "" {
		id = registry.NewReleaseID(at.Add(time.Duration(seq) * time.Second))
	}
	rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: seq,
		RecordedAt: at.Add(time.Duration(seq) * time.Second), ReleaseID: id, Stream: "acme/prod",
		FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at}
	if prev.name != "" {
		rel.PrevRecord, rel.PrevSHA256 = prev.name, prev.sum()
	}
	b, err := registry.EncodeRecord(rel)
	if err != nil {
		t.Fatal(err)
	}
	return chainRec{name: registry.RecordName(rel), data: b}
}

// mkUpdate encodes an update record of release id at seq after prev.
func mkUpdate(t *testing.T, seq int64, prev chainRec, id string) chainRec {
	t.Helper()
	return mkUpdateWith(t, seq, prev, id, func(*registry.Release) {})
}

// mkUpdateWith is mkUpdate with edit applied to the record before it is encoded.
func mkUpdateWith(t *testing.T, seq int64, prev chainRec, id string, edit func(*registry.Release)) chainRec {
	t.Helper()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordUpdate, Seq: seq,
		RecordedAt: at.Add(time.Duration(seq) * time.Second), ReleaseID: id, Stream: "acme/prod",
		FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at,
		PrevRecord: prev.name, PrevSHA256: prev.sum()}
	edit(rel)
	b, err := registry.EncodeRecord(rel)
	if err != nil {
		t.Fatal(err)
	}
	return chainRec{name: registry.RecordName(rel), data: b}
}

func logRecords(rs ...chainRec) []protocol.LogRecord {
	var out []protocol.LogRecord
	for _, r := range rs {
		out = append(out, protocol.LogRecord{Name: r.name, Data: r.data})
	}
	return out
}

// noCopy is the head of r without its copy of the record.
func noCopy(r chainRec, seq int64) *protocol.LogHead {
	return &protocol.LogHead{Sequence: seq, Record: r.name, RecordSHA256: "sha256:" + r.sum()}
}

func headOf(r chainRec, seq int64) *protocol.LogHead {
	return &protocol.LogHead{Sequence: seq, Record: r.name, RecordSHA256: "sha256:" + r.sum(), Data: r.data}
}

// chainNames lists the records of the verified chain, oldest first.
func chainNames(rep *registry.ChainReport) []string {
	var out []string
	for _, e := range rep.Chain {
		out = append(out, e.Record)
	}
	return out
}

func problemsText(rep *registry.ChainReport) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString(fmt.Sprintf("%s: %s [seq %d]\n", p.Kind, p.Message, p.Seq))
	}
	return b.String()
}

// VerifyChain walks the chain in the ways a damaged log needs, and says
// exactly what it found: each case gives the records the walk reaches and
// a text every problem report must hold (and one it must not).
func TestVerifyChainWalks(t *testing.T) {
	r1 := mkRec(t, 1, chainRec{}, "")
	r2 := mkRec(t, 2, r1, "")
	r3 := mkRec(t, 3, r2, "")
	r4 := mkRec(t, 4, r3, "")
	// A fork: another record 2 after r1, which r3 does not name.
	fork2 := mkRec(t, 2, r1, "")
	fork3 := mkRec(t, 3, r2, "")
	lowFork, highFork := r2, fork2
	if highFork.name < lowFork.name {
		lowFork, highFork = highFork, lowFork
	}
	forkLow, forkHigh := mkRec(t, 2, r1, ""), mkRec(t, 2, r1, "")
	if forkHigh.name < forkLow.name {
		forkLow, forkHigh = forkHigh, forkLow
	}
	upd2 := mkUpdate(t, 2, r1, registry.ParseRecordNameID(r1.name))
	r1ID := registry.ParseRecordNameID(r1.name)
	otherBlob := func(rel *registry.Release) { rel.FileDigest = "sha256:" + strings.Repeat("cd", 32) }
	repointed2 := mkUpdateWith(t, 2, r1, r1ID, otherBlob)
	resized2 := mkUpdateWith(t, 2, r1, r1ID, func(rel *registry.Release) { rel.SizeBytes = 11 })
	redigested2 := mkUpdateWith(t, 2, r1, r1ID, func(rel *registry.Release) {
		rel.PackDigest, rel.ManifestDigest = "sha256:"+strings.Repeat("ef", 32), "sha256:"+strings.Repeat("01", 32)
	})
	relabeled3 := mkUpdateWith(t, 3, upd2, r1ID, func(rel *registry.Release) { rel.Labels = []string{"v2"} })
	repointed3 := mkUpdateWith(t, 3, upd2, r1ID, otherBlob)
	current := func(name string, data []byte) protocol.LogRecord {
		return protocol.LogRecord{Name: registry.CurrentPrefix + name, Data: data}
	}
	orphanID := registry.NewReleaseID(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	orphan2 := mkUpdate(t, 2, r1, orphanID)
	// A loop: h (seq 4, only in the head) → a (3) → b (2) → a …
	loopA0 := mkRec(t, 3, chainRec{}, "") // placeholder to get a's name
	loopB := mkRec(t, 2, loopA0, "")
	loopA := mkRec(t, 3, loopB, registry.ParseRecordNameID(loopA0.name))
	loopH := mkRec(t, 4, loopA, "")
	garbage := func(r chainRec) chainRec { return chainRec{name: r.name, data: []byte("garbage")} }
	spaced := func(r chainRec) chainRec { return chainRec{name: r.name, data: append(bytes.Clone(r.data), ' ')} }
	emptyHead := &protocol.LogHead{Sequence: 3, Record: r3.name, RecordSHA256: "sha256:" + registry.SHA256Hex(nil)}

	for _, tc := range []struct {
		name    string
		head    *protocol.LogHead
		recs    []protocol.LogRecord
		chain   []string
		want    []string // texts the problems must hold, in this order
		notWant string
	}{
		{name: "whole chain", head: headOf(r3, 3), recs: logRecords(r1, r2, r3), chain: []string{r1.name, r2.name, r3.name}},
		{name: "unreadable head, records walked from the highest", head: &protocol.LogHead{Problem: "corrupt"}, recs: logRecords(r1, r2, r3),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"head cannot be read: corrupt"}},
		{name: "unreadable head, no records", head: &protocol.LogHead{Problem: "corrupt"},
			want: []string{"head cannot be read: corrupt"}},
		{name: "head with sequence 0", head: headOf(r3, 0), recs: logRecords(r1, r2, r3), chain: []string{r1.name, r2.name, r3.name},
			want: []string{"names no valid record hash and sequence"}},
		{name: "head one sequence ahead of its record", head: headOf(r3, 4), recs: logRecords(r1, r2, r3), chain: []string{r1.name, r2.name, r3.name},
			want: []string{"gap: record " + r3.name + " has sequence 3 where the chain needs 4"}},
		{name: "head one sequence behind its record", head: headOf(r3, 2), recs: logRecords(r1, r2, r3), chain: []string{r1.name, r2.name, r3.name},
			want: []string{"reordered: record " + r3.name + " has sequence 3 where the chain needs 2"}},
		{name: "head record missing, the head keeps its copy", head: headOf(r3, 3), recs: logRecords(r1, r2),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"keeps a copy with the right hash"}, notWant: "which is missing"},
		{name: "head record missing, no copy whose hash is the empty one", head: emptyHead, recs: logRecords(r1, r2),
			chain: []string{r1.name, r2.name}, want: []string{"which is missing"}, notWant: "keeps a copy"},
		{name: "head record missing without a copy, a fork of its sequence is not taken", head: noCopy(r3, 3), recs: logRecords(r1, r2, fork3),
			chain: []string{r1.name, r2.name}, want: []string{"which is missing", "not reached from the head"}},
		{name: "head record missing without a copy, a gap below it", head: noCopy(r4, 4), recs: logRecords(r1, r2),
			chain: []string{r1.name, r2.name}, want: []string{"which is missing"}, notWant: "where the chain needs"},
		{name: "head record missing without a copy, no records", head: noCopy(r3, 3),
			want: []string{"which is missing"}},
		{name: "head record missing, another copy", head: &protocol.LogHead{Sequence: 3, Record: r3.name, RecordSHA256: "sha256:" + r3.sum(), Data: r2.data}, recs: logRecords(r1, r2),
			chain: []string{r1.name, r2.name}, want: []string{"which is missing"}, notWant: "keeps a copy"},
		{name: "a head naming a short hash", head: &protocol.LogHead{Sequence: 3, Record: r3.name, RecordSHA256: "sha256:0123456789abcdef", Data: r3.data}, recs: logRecords(r1, r2, r3),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"names no valid record hash",
				"its SHA-256 is " + r3.sum()[:16] + "…, the head recorded 0123456789abcdef [seq 3]"}},
		{name: "the head's record altered", head: headOf(r3, 3), recs: logRecords(r1, r2, spaced(r3)),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"the head recorded"}},
		{name: "a middle record altered", head: headOf(r3, 3), recs: logRecords(r1, spaced(r2), r3),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"record " + r3.name + " recorded"}, notWant: "the head recorded"},
		{name: "malformed record, a fork of the next lower sequence is not taken", head: headOf(r3, 3), recs: logRecords(r1, garbage(r2), r3, fork2),
			chain: []string{r1.name, r3.name}, want: []string{"cannot be read", "not reached from the head"}, notWant: "canonical"},
		{name: "a fork not in canonical form", head: headOf(r3, 3), recs: logRecords(r1, r2, r3, spaced(fork3)),
			chain: []string{r1.name, r2.name, r3.name}, want: []string{"is not stored in canonical form", "the log forks"}},
		{name: "a missing record, the next walk goes on at the fork with the smaller name", head: headOf(r3, 3), recs: logRecords(r1, forkLow, forkHigh, r3),
			chain: []string{r1.name, forkLow.name, r3.name}, want: []string{"record " + r2.name + " (seq 2, the one before " + r3.name + ") is missing"}},
		{name: "no head, records newest first", recs: logRecords(r2, r1),
			chain: []string{r1.name, r2.name}, want: []string{"checking from the highest sequence (2, record " + r2.name + ")"}},
		{name: "no head, two records of the highest sequence", recs: logRecords(r1, lowFork, highFork),
			chain: []string{r1.name, lowFork.name}, want: []string{"checking from the highest sequence (2, record " + lowFork.name + ")"}},
		{name: "the first record malformed", head: headOf(r3, 3), recs: logRecords(garbage(r1), r2, r3),
			chain: []string{r2.name, r3.name}, want: []string{"record " + r1.name + " (seq 1) cannot be read"}},
		{name: "malformed record above a gap", head: headOf(r4, 4), recs: logRecords(r1, garbage(r3), r4),
			chain: []string{r1.name, r4.name}, want: []string{"record " + r3.name + " (seq 3) cannot be read"}, notWant: "where the chain needs"},
		{name: "the first record missing", head: headOf(r3, 3), recs: logRecords(r2, r3),
			chain: []string{r2.name, r3.name}, want: []string{"missing: record " + r1.name + " (seq 1, the one before " + r2.name + ") is missing [seq 1]"}},
		{name: "a missing record, a fork of the same sequence is not taken", head: headOf(r3, 3), recs: logRecords(r1, r3, fork3),
			chain: []string{r1.name, r3.name}, want: []string{"record " + r2.name + " (seq 2, the one before " + r3.name + ") is missing", "the log forks"}, notWant: "is stored either"},
		{name: "two records missing", head: headOf(r4, 4), recs: logRecords(r1, r4),
			chain: []string{r1.name, r4.name}, want: []string{"record " + r3.name + " (seq 3, the one before " + r4.name + ") is missing", "gap: no record with sequence 2 to 2 is stored either [seq 1]"}},
		{name: "an update of a release of the chain", head: headOf(upd2, 2), recs: logRecords(r1, upd2),
			chain: []string{r1.name, upd2.name}},
		{name: "an update that keeps its release's pack, with new labels", head: headOf(relabeled3, 3), recs: logRecords(r1, upd2, relabeled3),
			chain: []string{r1.name, upd2.name, relabeled3.name}},
		{name: "an update that changes its release's file digest", head: headOf(repointed2, 2), recs: logRecords(r1, repointed2),
			chain: []string{r1.name, repointed2.name}, want: []string{"rewritten: record " + repointed2.name + " (seq 2) rewrites release " + r1ID + ": an update keeps the release's pack, it has file_digest sha256:cdcd"}},
		{name: "an update that changes its release's size", head: headOf(resized2, 2), recs: logRecords(r1, resized2),
			chain: []string{r1.name, resized2.name}, want: []string{"rewritten: record " + resized2.name + " (seq 2) rewrites release " + r1ID + ": an update keeps the release's pack, it has size_bytes 11 (was 10)"}},
		{name: "an update that changes its release's pack and manifest digests", head: headOf(redigested2, 2), recs: logRecords(r1, redigested2),
			chain: []string{r1.name, redigested2.name}, want: []string{"rewritten: record " + redigested2.name + " (seq 2) rewrites release " + r1ID + ": an update keeps the release's pack, it has pack_digest sha256:efef"}},
		{name: "a second update that changes its release's file digest", head: headOf(repointed3, 3), recs: logRecords(r1, upd2, repointed3),
			chain: []string{r1.name, upd2.name, repointed3.name}, want: []string{"rewritten: record " + repointed3.name + " (seq 3)"}, notWant: upd2.name + " (seq 2) rewrites"},
		{name: "a current copy that is its release's newest record", head: headOf(upd2, 2), recs: append(logRecords(r1, upd2), current(r1ID, upd2.data)),
			chain: []string{r1.name, upd2.name}},
		{name: "a current copy rolled back to an older record", head: headOf(upd2, 2), recs: append(logRecords(r1, upd2), current(r1ID, r1.data)),
			chain: []string{r1.name, upd2.name}, want: []string{"altered: the current copy of release " + r1ID + " (what pull and releases read) was altered: its SHA-256 is " + r1.sum()[:16]}},
		{name: "a current copy of a release the chain does not have", head: headOf(r1, 1), recs: append(logRecords(r1), current(orphanID, r1.data)),
			chain: []string{r1.name}, want: []string{"altered: the current copy of release " + orphanID + " (what pull and releases read) was altered: the chain has no record of release " + orphanID}},
		{name: "a current copy of no release id", head: headOf(r1, 1), recs: append(logRecords(r1), current("x", r1.data)),
			chain: []string{r1.name}, want: []string{"malformed: \"current/x\" is not the name of a release's current copy"}},
		{name: "an update of a release the chain does not create", head: headOf(orphan2, 2), recs: logRecords(r1, orphan2),
			chain: []string{r1.name, orphan2.name}, want: []string{"missing: record " + orphan2.name + " updates release " + orphanID + ", whose first record is not in the chain"}},
		{name: "a loop after the head's copy", head: headOf(loopH, 4), recs: logRecords(loopA, loopB),
			chain: []string{loopB.name, loopA.name, loopH.name}, want: []string{"it loops"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := registry.VerifyChain("acme/prod", tc.head, tc.recs)
			if got := strings.Join(chainNames(rep), " "); got != strings.Join(tc.chain, " ") {
				t.Errorf("chain %q, want %q\n%s", got, strings.Join(tc.chain, " "), problemsText(rep))
			}
			text := problemsText(rep)
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("problems do not say %q (in order):\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			if len(tc.want) == 0 && !rep.OK() {
				t.Fatalf("problems in a whole chain:\n%s", text)
			}
			if tc.notWant != "" && strings.Contains(text, tc.notWant) {
				t.Fatalf("problems say %q:\n%s", tc.notWant, text)
			}
		})
	}
}

// The walk stops once maxProblems (1000) problems are listed: in a chain
// whose every link names the wrong hash, the chain reported ends with the
// record that made the thousandth problem, and the report says there is
// more.
func TestVerifyChainStopsAtMaxProblems(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var recs []chainRec
	prev := ""
	for seq := int64(1); seq <= 1002; seq++ {
		rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: seq,
			RecordedAt: at.Add(time.Duration(seq) * time.Second), ReleaseID: registry.NewReleaseID(at.Add(time.Duration(seq) * time.Second)),
			Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at}
		if prev != "" {
			rel.PrevRecord, rel.PrevSHA256 = prev, strings.Repeat("0", 64)
		}
		b, err := registry.EncodeRecord(rel)
		if err != nil {
			t.Fatal(err)
		}
		prev = registry.RecordName(rel)
		recs = append(recs, chainRec{name: prev, data: b})
	}
	top := recs[len(recs)-1]
	rep := registry.VerifyChain("acme/prod", headOf(top, 1002), logRecords(recs...))
	if len(rep.Chain) != 1001 || rep.Chain[0].Record != recs[1].name {
		t.Fatalf("chain of %d records starting at %s, want 1001 starting at %s", len(rep.Chain), rep.Chain[0].Record, recs[1].name)
	}
	if n := len(rep.Problems); n != 1001 || rep.Problems[n-1].Kind != registry.ProblemTooMany || rep.Problems[0].Kind != registry.ProblemAltered {
		t.Fatalf("%d problems, last %+v", n, rep.Problems[n-1])
	}
}

// CheckReceipt finds a receipt's release at its place in the chain, or
// says what is there instead; a receipt from before the log only needs
// its release in the chain or among the legacy releases.
func TestCheckReceipt(t *testing.T) {
	r1 := mkRec(t, 1, chainRec{}, "")
	r2 := mkRec(t, 2, r1, "")
	legacyID := registry.NewReleaseID(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rep := registry.VerifyChain("acme/prod", headOf(r2, 2), logRecords(r1, r2))
	rep.Legacy = append(rep.Legacy, legacyID)
	id1, id2 := registry.ParseRecordNameID(r1.name), registry.ParseRecordNameID(r2.name)
	pos := func(seq int64, sum string) *protocol.LogPosition {
		return &protocol.LogPosition{Stream: "acme/prod", Sequence: seq, RecordSHA256: "sha256:" + sum}
	}
	other := registry.NewReleaseID(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name string
		id   string
		pos  *protocol.LogPosition
		want string // "" or a part of the answer
	}{
		{"in the chain, no position", id1, nil, ""},
		{"legacy, no position", legacyID, nil, ""},
		{"nowhere, no position", other, nil, "is not in the chain of stream"},
		{"at its place", id2, pos(2, r2.sum()), ""},
		{"another release at its place", id1, pos(2, r2.sum()), "the chain has release " + id2 + " at seq 2"},
		{"its record replaced", id2, pos(2, r1.sum()), "has SHA-256 " + r2.sum()[:16] + "…, the receipt recorded " + r1.sum()[:16] + "…: it was replaced"},
		{"past the chain", id2, pos(3, r2.sum()), "has no record at seq 3"},
	} {
		got := registry.CheckReceipt(rep, tc.id, tc.pos)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: CheckReceipt = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A blob status for a blob no record names still makes a problem (without
// a release id); one the records name carries the first release naming it.
func TestAddBlobStatus(t *testing.T) {
	r1 := mkRec(t, 1, chainRec{}, "")
	rep := registry.VerifyChain("acme/prod", headOf(r1, 1), logRecords(r1))
	refs := rep.BlobRefs()
	if len(refs) != 1 {
		t.Fatalf("blob refs %+v", refs)
	}
	rep.AddBlobStatus(protocol.BlobStatus{Digest: refs[0].Digest, SizeBytes: refs[0].SizeBytes, Status: protocol.BlobMissing})
	stray := "sha256:" + strings.Repeat("cd", 32)
	rep.AddBlobStatus(protocol.BlobStatus{Digest: stray, SizeBytes: 5, Status: protocol.BlobSizeMismatch, ActualSizeBytes: 6})
	rep.AddBlobStatus(protocol.BlobStatus{Digest: refs[0].Digest, SizeBytes: refs[0].SizeBytes, Status: protocol.BlobOK})
	rep.AddBlobStatus(protocol.BlobStatus{Digest: refs[0].Digest, SizeBytes: refs[0].SizeBytes, Status: protocol.BlobDigestMismatch})
	rep.AddBlobStatus(protocol.BlobStatus{Digest: refs[0].Digest, SizeBytes: refs[0].SizeBytes, Status: protocol.BlobDigestMismatch, ActualDigest: stray})
	if len(rep.Problems) != 4 {
		t.Fatalf("problems %+v", rep.Problems)
	}
	if p := rep.Problems[0]; p.Kind != registry.ProblemBlobMissing || p.ReleaseID != registry.ParseRecordNameID(r1.name) {
		t.Errorf("missing blob: %+v", p)
	}
	if p := rep.Problems[1]; p.Kind != registry.ProblemBlobChanged || p.ReleaseID != "" || !strings.Contains(p.Message, "6 bytes, its records say 5") {
		t.Errorf("changed stray blob: %+v", p)
	}
	if p := rep.Problems[2]; p.Kind != registry.ProblemBlobChanged || !strings.HasSuffix(p.Message, "its bytes have another digest") {
		t.Errorf("changed blob, digest unknown: %+v", p)
	}
	if p := rep.Problems[3]; p.Kind != registry.ProblemBlobChanged || !strings.HasSuffix(p.Message, "its bytes have "+stray) {
		t.Errorf("changed blob, digest known: %+v", p)
	}
}

// BlobRefs are sorted by digest, then size.
func TestBlobRefsOrder(t *testing.T) {
	a, b := "sha256:"+strings.Repeat("0a", 32), "sha256:"+strings.Repeat("0b", 32)
	rep := &registry.ChainReport{Blobs: map[protocol.BlobRef][]string{
		{Digest: b, SizeBytes: 1}: nil, {Digest: a, SizeBytes: 9}: nil, {Digest: a, SizeBytes: 3}: nil, {Digest: b, SizeBytes: 0}: nil,
	}}
	want := []protocol.BlobRef{{Digest: a, SizeBytes: 3}, {Digest: a, SizeBytes: 9}, {Digest: b, SizeBytes: 0}, {Digest: b, SizeBytes: 1}}
	for i := 0; i < 20; i++ { // map order varies
		got := rep.BlobRefs()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("BlobRefs() = %v, want %v", got, want)
		}
	}
}

// A first record that adopted as many legacy records as one may
// (maxLegacyAdopted, 10000) may have left some out: a legacy record it
// does not name is then a notice, not a problem of the log.
func TestVerifyChainFullLegacyAdoption(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		adopted int
		notice  bool
	}{{10000, true}, {9999, false}} {
		legacy := make([]registry.LegacyRecord, tc.adopted)
		for i := range legacy {
			legacy[i] = registry.LegacyRecord{ReleaseID: registry.NewReleaseID(at.Add(-time.Duration(i+1) * time.Hour)), SHA256: strings.Repeat("0f", 32)}
		}
		first := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: 1, RecordedAt: at, ReleaseID: registry.NewReleaseID(at),
			Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at, Legacy: legacy}
		b, err := registry.EncodeRecord(first)
		if err != nil {
			t.Fatal(err)
		}
		r1 := chainRec{name: registry.RecordName(first), data: b}
		extraID := registry.NewReleaseID(at.Add(-time.Minute))
		extra := []byte(`{"release_id":"` + extraID + `","stream":"acme/prod","file_digest":"sha256:` + strings.Repeat("cd", 32) + `","size_bytes":3,"created_at":"2026-01-01T00:00:00Z"}`)
		rep := registry.VerifyChain("acme/prod", headOf(r1, 1), append(logRecords(r1), protocol.LogRecord{Name: extraID, Data: extra}))
		if got := slices.Contains(rep.Legacy, extraID); got != tc.notice {
			t.Errorf("%d adopted: the unadopted legacy record is a notice = %v, want %v", tc.adopted, got, tc.notice)
		}
	}
}
