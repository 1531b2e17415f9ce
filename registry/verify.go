package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Verification of a stream's release log from what log.read hands out
// (the head and every stored record, as bytes): no store access, so the
// host recomputes every hash itself. VerifyChain walks from the head back
// to the first record, following each record's prev_record and checking
// prev_sha256 against the SHA-256 of the bytes found; it never trusts a
// name or a number it has not checked, never loops and never panics.

// Problem kinds of a verification.
const (
	ProblemMissing      = "missing"       // a record the chain names is not stored
	ProblemAltered      = "altered"       // a record's bytes differ from what the next record (or the head) hashed
	ProblemReordered    = "reordered"     // a record has the wrong sequence number, stream or time for its place
	ProblemGap          = "gap"           // sequence numbers skip
	ProblemFork         = "fork"          // two records with the same sequence number
	ProblemLoop         = "loop"          // the chain comes back to a record it passed
	ProblemNonCanonical = "non_canonical" // a record is not in canonical form
	ProblemMalformed    = "malformed"     // a record or the head cannot be read as one
	ProblemHeadMissing  = "head_missing"  // the head names a record that is not stored (or there is no head)
	ProblemUnchained    = "unchained"     // a stored record the chain does not reach
	ProblemLegacy       = "legacy"        // an adopted record from before the log is missing or altered
	ProblemBlobMissing  = "blob_missing"  // a pack blob a record names is not stored
	ProblemBlobChanged  = "blob_changed"  // a pack blob has another size or digest than its records say
	ProblemReceipt      = "receipt"       // a push receipt's release is not at its place in the chain
	ProblemRewritten    = "rewritten"     // an update record changes its release's pack (file digest, size, pack or manifest digest, creation time)
)

// maxProblems bounds the problems one stream's report lists: past it the
// walk stops (a chain that broken needs no more detail, and hostile data
// cannot make verification slow).
const maxProblems = 1000

// ProblemTooMany ends a report that reached maxProblems.
const ProblemTooMany = "too_many_problems"

// Problem is one thing verification found wrong.
type Problem struct {
	Kind      string `json:"kind"`
	Stream    string `json:"stream,omitempty"`
	Record    string `json:"record,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	ReleaseID string `json:"release_id,omitempty"`
	Message   string `json:"message"`
}

// ChainEntry is one record of a verified chain.
type ChainEntry struct {
	Seq        int64     `json:"seq"`
	Record     string    `json:"record"`
	SHA256     string    `json:"sha256"`
	Kind       string    `json:"kind"`
	ReleaseID  string    `json:"release_id"`
	FileDigest string    `json:"file_digest"`
	SizeBytes  int64     `json:"size_bytes"`
	Labels     []string  `json:"labels"`
	RecordedAt time.Time `json:"recorded_at"`
	Remote     string    `json:"remote,omitempty"`
}

// ChainReport is what VerifyChain found in one stream.
type ChainReport struct {
	Stream string `json:"stream"`
	// Head is the head as the registry states it (nil: no log).
	Head *protocol.LogPosition `json:"head"`
	// Chain is the records reached from the head, oldest first.
	Chain []ChainEntry `json:"chain"`
	// Legacy names releases recorded before the log that no record of the
	// log protects yet (a notice in a stream without a log, else a problem).
	Legacy []string `json:"legacy,omitempty"`
	// Problems found; empty when the chain is whole.
	Problems []Problem `json:"problems"`
	// Blobs are the pack blobs the records name, with the releases naming each.
	Blobs map[protocol.BlobRef][]string `json:"-"`
	// Records counts the stored objects of the stream.
	Records int `json:"records"`
}

// OK reports whether no problem was found.
func (c *ChainReport) OK() bool { return len(c.Problems) == 0 }

func (c *ChainReport) add(kind, record string, seq int64, id, format string, args ...any) {
	switch n := len(c.Problems); {
	case n > maxProblems:
		return
	case n == maxProblems:
		c.Problems = append(c.Problems, Problem{Kind: ProblemTooMany, Stream: c.Stream, Message: fmt.Sprintf("more than %d problems; the rest is not listed", maxProblems)})
		return
	}
	c.Problems = append(c.Problems, Problem{Kind: kind, Stream: c.Stream, Record: record, Seq: seq, ReleaseID: id, Message: fmt.Sprintf(format, args...)})
}

// parsedRecord is one stored object, decoded once.
type parsedRecord struct {
	name    string
	data    []byte
	sum     string
	rel     *Release
	err     error
	visited bool
}

// VerifyChain checks the release log of stream from its head and records
// (every stored object of the stream's records folder, as log.read returns
// them). Blob checks are the caller's (Blobs lists what to check).
func VerifyChain(stream string, head *protocol.LogHead, records []protocol.LogRecord) *ChainReport {
	var currents []protocol.LogRecord
	records = slices.DeleteFunc(slices.Clone(records), func(lr protocol.LogRecord) bool {
		if strings.HasPrefix(lr.Name, CurrentPrefix) {
			currents = append(currents, lr)
			return true
		}
		return false
	})
	rep := &ChainReport{Stream: stream, Problems: []Problem{}, Chain: []ChainEntry{}, Blobs: map[protocol.BlobRef][]string{}, Records: len(records)}
	defer func() { checkCurrents(rep, currents) }()
	byName := make(map[string]*parsedRecord, len(records))
	bySeq := map[int64][]*parsedRecord{}
	var chained []*parsedRecord // records with log fields, for resync
	for _, lr := range records {
		p := &parsedRecord{name: lr.Name, data: lr.Data, sum: SHA256Hex(lr.Data)}
		if _, dup := byName[lr.Name]; dup {
			rep.add(ProblemMalformed, lr.Name, 0, "", "record %s is listed twice", lr.Name)
			continue
		}
		byName[lr.Name] = p
		_, _, ok := ParseRecordName(lr.Name)
		switch {
		case !ok:
			p.err = fmt.Errorf("%q is not the name of a release record", lr.Name)
		case lr.Omitted != "":
			p.err = fmt.Errorf("%w: not readable (%s)", ErrMalformedRecord, lr.Omitted)
		default:
			p.rel, p.err = ParseRecord(lr.Data)
		}
		if p.rel != nil && !p.rel.IsLegacy() {
			chained = append(chained, p)
			bySeq[p.rel.Seq] = append(bySeq[p.rel.Seq], p)
		}
	}

	// Where the walk starts: the head's record, else the highest sequence.
	var cur *parsedRecord
	wantSum, wantSeq := "", int64(0)
	switch {
	case head == nil && len(chained) > 0:
		top := highest(chained)
		rep.add(ProblemHeadMissing, "", 0, "", "the stream has %d records of the release log but no head; checking from the highest sequence (%d, record %s)", len(chained), top.rel.Seq, top.name)
		cur, wantSeq = top, top.rel.Seq
	case head != nil && head.Problem != "":
		rep.add(ProblemMalformed, "", 0, "", "the stream's head cannot be read: %s", head.Problem)
		if len(chained) > 0 {
			top := highest(chained)
			cur, wantSeq = top, top.rel.Seq
		}
	case head != nil:
		rep.Head = &protocol.LogPosition{Stream: stream, Sequence: head.Sequence, Record: head.Record, RecordSHA256: head.RecordSHA256}
		wantSum = strings.TrimPrefix(head.RecordSHA256, "sha256:")
		wantSeq = head.Sequence
		if !strings.HasPrefix(head.RecordSHA256, "sha256:") || !isHex64(wantSum) || head.Sequence <= 0 {
			rep.add(ProblemMalformed, head.Record, head.Sequence, "", "the head names no valid record hash and sequence (%q, %d)", truncate(head.RecordSHA256), head.Sequence)
		}
		cur = byName[head.Record]
		if cur == nil {
			if _, _, ok := ParseRecordName(head.Record); !ok {
				rep.add(ProblemMalformed, head.Record, head.Sequence, "", "the head names %q, which is not a record name", truncate(head.Record))
				break
			}
			id, _, _ := ParseRecordName(head.Record)
			if len(head.Data) > 0 && SHA256Hex(head.Data) == wantSum {
				rep.add(ProblemHeadMissing, head.Record, head.Sequence, id,
					"the head points at record %s (seq %d), which is not stored; the head keeps a copy with the right hash (a push died after moving the head): the stream's next push writes it", head.Record, head.Sequence)
				p := &parsedRecord{name: head.Record, data: head.Data, sum: wantSum}
				p.rel, p.err = ParseRecord(head.Data)
				cur = p
			} else {
				rep.add(ProblemHeadMissing, head.Record, head.Sequence, id, "the head points at record %s (seq %d), which is missing", head.Record, head.Sequence)
				cur = resync(bySeq, wantSeq-1, rep)
				wantSum, wantSeq = "", wantSeq-1
				if cur != nil {
					wantSeq = cur.rel.Seq
				}
			}
		}
	}

	// Walk back to the first record.
	var newer *Release
	var entries []ChainEntry
	var rels []*Release // entries' records
	for steps := 0; cur != nil && steps <= len(records)+1 && len(rep.Problems) < maxProblems; steps++ {
		if cur.visited {
			rep.add(ProblemLoop, cur.name, wantSeq, "", "the chain comes back to record %s: it loops", cur.name)
			break
		}
		cur.visited = true
		if wantSum != "" && cur.sum != wantSum {
			what := "the head"
			if newer != nil {
				what = "record " + RecordName(newer)
			}
			rep.add(ProblemAltered, cur.name, wantSeq, idOf(cur), "record %s (seq %d) was altered: its SHA-256 is %s, %s recorded %s", cur.name, wantSeq, short(cur.sum), what, short(wantSum))
		}
		if cur.err != nil && cur.rel != nil {
			rep.add(ProblemNonCanonical, cur.name, wantSeq, idOf(cur), "record %s (seq %d) is not stored in canonical form (RFC 8785, only the fields of the format): it was edited", cur.name, wantSeq)
		} else if cur.err != nil {
			rep.add(ProblemMalformed, cur.name, wantSeq, idOf(cur), "record %s (seq %d) cannot be read: %v", cur.name, wantSeq, cur.err)
			next := resync(bySeq, wantSeq-1, rep)
			cur, wantSum, wantSeq = next, "", wantSeq-1
			if next != nil {
				wantSeq = next.rel.Seq
			}
			newer = nil
			continue
		}
		rel := cur.rel
		if rel.IsLegacy() {
			rep.add(ProblemMalformed, cur.name, wantSeq, rel.ReleaseID, "record %s has no release log fields, but the chain names it at seq %d", cur.name, wantSeq)
			break
		}
		if RecordName(rel) != cur.name {
			rep.add(ProblemReordered, cur.name, rel.Seq, rel.ReleaseID, "record stored as %s is record %s (seq %d): it was moved", cur.name, RecordName(rel), rel.Seq)
		}
		if wantSeq != 0 && rel.Seq != wantSeq {
			kind := ProblemReordered
			if rel.Seq < wantSeq {
				kind = ProblemGap
			}
			rep.add(kind, cur.name, rel.Seq, rel.ReleaseID, "record %s has sequence %d where the chain needs %d", cur.name, rel.Seq, wantSeq)
		}
		if rel.Stream != stream {
			rep.add(ProblemReordered, cur.name, rel.Seq, rel.ReleaseID, "record %s belongs to stream %q", cur.name, rel.Stream)
		}
		if newer != nil && rel.RecordedAt.After(newer.RecordedAt) {
			rep.add(ProblemReordered, cur.name, rel.Seq, rel.ReleaseID, "record %s (seq %d) was recorded after the record that follows it (%s)", cur.name, rel.Seq, RecordName(newer))
		}
		entries = append(entries, ChainEntry{Seq: rel.Seq, Record: cur.name, SHA256: cur.sum, Kind: rel.Kind, ReleaseID: rel.ReleaseID,
			FileDigest: rel.FileDigest, SizeBytes: rel.SizeBytes, Labels: nonNil(rel.Labels), RecordedAt: rel.RecordedAt, Remote: rel.Remote})
		rels = append(rels, rel)
		ref := protocol.BlobRef{Digest: rel.FileDigest, SizeBytes: rel.SizeBytes}
		if !slices.Contains(rep.Blobs[ref], rel.ReleaseID) {
			rep.Blobs[ref] = append(rep.Blobs[ref], rel.ReleaseID)
		}
		if rel.Seq == 1 {
			checkLegacy(rep, rel, byName)
			break
		}
		newer = rel
		wantSum, wantSeq = rel.PrevSHA256, rel.Seq-1
		next := byName[rel.PrevRecord]
		if next == nil {
			id, _, _ := ParseRecordName(rel.PrevRecord)
			rep.add(ProblemMissing, rel.PrevRecord, rel.Seq-1, id, "record %s (seq %d, the one before %s) is missing", rel.PrevRecord, rel.Seq-1, cur.name)
			next = resync(bySeq, rel.Seq-1, rep)
			wantSum, newer = "", nil
			if next != nil {
				wantSeq = next.rel.Seq
				if next.rel.Seq < rel.Seq-2 {
					rep.add(ProblemGap, next.name, next.rel.Seq, next.rel.ReleaseID, "no record with sequence %d to %d is stored either", next.rel.Seq+1, rel.Seq-2)
				}
			}
		}
		cur = next
	}
	slices.Reverse(entries)
	slices.Reverse(rels)
	rep.Chain = entries
	checkIdentity(rep, entries, rels, byName)

	// Releases the chain names (for updates without their release).
	created := map[string]bool{}
	for _, e := range entries {
		if e.Kind == RecordRelease {
			created[e.ReleaseID] = true
		}
	}
	for _, l := range legacyOf(entries, byName) {
		created[l] = true
	}
	for _, e := range entries {
		if e.Kind == RecordUpdate && !created[e.ReleaseID] {
			rep.add(ProblemMissing, e.ReleaseID, 0, e.ReleaseID, "record %s updates release %s, whose first record is not in the chain", e.Record, e.ReleaseID)
			created[e.ReleaseID] = true
		}
	}

	// What the walk did not reach.
	inChain := map[int64]string{}
	for _, e := range entries {
		inChain[e.Seq] = e.Record
	}
	hasLog := head != nil || len(chained) > 0
	adopted := map[string]bool{}
	for _, l := range legacyOf(entries, byName) {
		adopted[l] = true
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := byName[n]
		switch {
		case p.visited:
		case p.err != nil && (p.rel == nil || p.rel.IsLegacy()):
			kind := ProblemMalformed
			if errors.Is(p.err, ErrNonCanonical) {
				kind = ProblemNonCanonical
			}
			rep.add(kind, n, 0, idOf(p), "stored object %s is not a valid release record: %v", n, p.err)
		case p.rel.IsLegacy():
			ref := protocol.BlobRef{Digest: p.rel.FileDigest, SizeBytes: p.rel.SizeBytes}
			if !slices.Contains(rep.Blobs[ref], p.rel.ReleaseID) {
				rep.Blobs[ref] = append(rep.Blobs[ref], p.rel.ReleaseID)
			}
			if adopted[p.rel.ReleaseID] {
				continue
			}
			if hasLog && !legacyFull(entries, byName) {
				rep.add(ProblemUnchained, n, 0, p.rel.ReleaseID, "record %s has no release log fields and the log does not adopt it: it was added after the log began", n)
			} else {
				rep.Legacy = append(rep.Legacy, p.rel.ReleaseID)
			}
		default:
			if p.err != nil {
				rep.add(ProblemNonCanonical, n, p.rel.Seq, p.rel.ReleaseID, "record %s is not stored in canonical form", n)
			}
			if other, ok := inChain[p.rel.Seq]; ok {
				rep.add(ProblemFork, n, p.rel.Seq, p.rel.ReleaseID, "records %s and %s both have sequence %d: the log forks", other, n, p.rel.Seq)
			} else {
				rep.add(ProblemUnchained, n, p.rel.Seq, p.rel.ReleaseID, "record %s (seq %d) is not reached from the head", n, p.rel.Seq)
			}
		}
	}
	return rep
}

// checkIdentity names each update record that does not keep what its
// release was created with (its record of kind release, or the legacy
// record the log adopted; else the release's first update in the chain):
// labels and notes may grow, the pack a release is never changes.
func checkIdentity(rep *ChainReport, entries []ChainEntry, rels []*Release, byName map[string]*parsedRecord) {
	base := map[string]*Release{}
	for _, id := range legacyOf(entries, byName) {
		if p := byName[id]; p != nil && p.rel != nil {
			base[id] = p.rel
		}
	}
	for i, rel := range rels {
		b := base[rel.ReleaseID]
		if b == nil || rel.Kind == RecordRelease {
			base[rel.ReleaseID] = rel
			continue
		}
		var changed []string
		diff := func(field, was, is string) {
			if was != is {
				changed = append(changed, fmt.Sprintf("%s %s (was %s)", field, truncate(is), truncate(was)))
			}
		}
		diff("file_digest", b.FileDigest, rel.FileDigest)
		diff("size_bytes", fmt.Sprint(b.SizeBytes), fmt.Sprint(rel.SizeBytes))
		diff("pack_digest", b.PackDigest, rel.PackDigest)
		diff("manifest_digest", b.ManifestDigest, rel.ManifestDigest)
		if !b.CreatedAt.Equal(rel.CreatedAt) {
			diff("created_at", b.CreatedAt.UTC().Format(time.RFC3339Nano), rel.CreatedAt.UTC().Format(time.RFC3339Nano))
		}
		if len(changed) > 0 {
			rep.add(ProblemRewritten, entries[i].Record, rel.Seq, rel.ReleaseID,
				"record %s (seq %d) rewrites release %s: an update keeps the release's pack, it has %s", entries[i].Record, rel.Seq, rel.ReleaseID, strings.Join(changed, ", "))
		}
	}
}

// checkCurrents names each current copy log.read handed out (the adapter
// hands out only those that are not their release's newest record) that
// is not byte for byte the newest record of its release in the chain: pull,
// releases and hold read it, so an edit there changes what they answer.
func checkCurrents(rep *ChainReport, currents []protocol.LogRecord) {
	for _, lr := range currents {
		id := strings.TrimPrefix(lr.Name, CurrentPrefix)
		if !ValidReleaseID(id) {
			rep.add(ProblemMalformed, truncate(lr.Name), 0, "", "%q is not the name of a release's current copy", truncate(lr.Name))
			continue
		}
		var newest *ChainEntry
		for i := range rep.Chain {
			if rep.Chain[i].ReleaseID == id {
				newest = &rep.Chain[i]
			}
		}
		sum := SHA256Hex(lr.Data)
		if newest != nil && slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.Record == newest.Record }) {
			continue // the record itself was altered (and is named so): the copy may be the genuine one
		}
		switch {
		case lr.Omitted != "":
			rep.add(ProblemAltered, lr.Name, 0, id, "the current copy of release %s (what pull and releases read) differs from its record in the release log; it cannot be read (%s)", id, lr.Omitted)
		case newest == nil:
			rep.add(ProblemAltered, lr.Name, 0, id, "the current copy of release %s (what pull and releases read) was altered: the chain has no record of release %s", id, id)
		case newest.SHA256 != sum:
			rep.add(ProblemAltered, lr.Name, newest.Seq, id, "the current copy of release %s (what pull and releases read) was altered: its SHA-256 is %s, the release's newest record in the chain (%s, seq %d) has %s", id, short(sum), newest.Record, newest.Seq, short(newest.SHA256))
		}
	}
}

// highest is the record with the highest sequence number.
func highest(ps []*parsedRecord) *parsedRecord {
	best := ps[0]
	for _, p := range ps[1:] {
		if p.rel.Seq > best.rel.Seq || p.rel.Seq == best.rel.Seq && p.name < best.name {
			best = p
		}
	}
	return best
}

// resync picks where the walk goes on after a link it cannot follow: the
// unvisited record with the highest sequence at most seq.
func resync(bySeq map[int64][]*parsedRecord, seq int64, _ *ChainReport) *parsedRecord {
	var best *parsedRecord
	for s, ps := range bySeq {
		if s > seq {
			continue
		}
		for _, p := range ps {
			if p.visited {
				continue
			}
			if best == nil || s > best.rel.Seq || s == best.rel.Seq && p.name < best.name {
				best = p
			}
		}
	}
	return best
}

// checkLegacy checks the legacy records the first record adopted.
func checkLegacy(rep *ChainReport, first *Release, byName map[string]*parsedRecord) {
	for _, l := range first.Legacy {
		p := byName[l.ReleaseID]
		switch {
		case p == nil:
			rep.add(ProblemLegacy, l.ReleaseID, 0, l.ReleaseID, "release %s, recorded before the log and adopted by its first record, is missing", l.ReleaseID)
		case p.sum != l.SHA256:
			rep.add(ProblemLegacy, l.ReleaseID, 0, l.ReleaseID, "release %s, recorded before the log and adopted by its first record, was altered (SHA-256 %s, adopted as %s)", l.ReleaseID, short(p.sum), short(l.SHA256))
			p.visited = true
		default:
			p.visited = true
		}
	}
}

// legacyOf returns the release ids the chain's first record adopted.
func legacyOf(entries []ChainEntry, byName map[string]*parsedRecord) []string {
	if len(entries) == 0 || entries[0].Seq != 1 {
		return nil
	}
	p := byName[entries[0].Record]
	if p == nil || p.rel == nil {
		return nil
	}
	var out []string
	for _, l := range p.rel.Legacy {
		out = append(out, l.ReleaseID)
	}
	return out
}

// legacyFull reports whether the first record adopted as many legacy
// records as one may: more may have been left out.
func legacyFull(entries []ChainEntry, byName map[string]*parsedRecord) bool {
	return len(legacyOf(entries, byName)) >= maxLegacyAdopted
}

func idOf(p *parsedRecord) string {
	id, _, _ := ParseRecordName(p.name)
	return id
}

func short(hex string) string {
	if len(hex) > 16 {
		return hex[:16] + "…"
	}
	return hex
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CheckReceipt says whether a push receipt's release (id, and the
// position its receipt recorded: nil for receipts from before the log)
// is still at its place in rep's chain; "" when it is.
func CheckReceipt(rep *ChainReport, releaseID string, pos *protocol.LogPosition) string {
	if pos == nil {
		for _, e := range rep.Chain {
			if e.ReleaseID == releaseID {
				return ""
			}
		}
		if slices.Contains(rep.Legacy, releaseID) {
			return ""
		}
		return fmt.Sprintf("release %s is not in the chain of stream %q", releaseID, rep.Stream)
	}
	for _, e := range rep.Chain {
		if e.Seq != pos.Sequence {
			continue
		}
		switch {
		case e.ReleaseID != releaseID:
			return fmt.Sprintf("the chain has release %s at seq %d, the receipt release %s", e.ReleaseID, e.Seq, releaseID)
		case "sha256:"+e.SHA256 != pos.RecordSHA256:
			return fmt.Sprintf("the record at seq %d (%s) has SHA-256 %s, the receipt recorded %s: it was replaced", e.Seq, e.Record, short(e.SHA256), short(strings.TrimPrefix(pos.RecordSHA256, "sha256:")))
		}
		return ""
	}
	return fmt.Sprintf("the chain of stream %q has no record at seq %d, where the receipt recorded release %s", rep.Stream, pos.Sequence, releaseID)
}

// AddBlobStatus records what blobs.check said of a blob rep's records name.
func (c *ChainReport) AddBlobStatus(st protocol.BlobStatus) {
	ref := protocol.BlobRef{Digest: st.Digest, SizeBytes: st.SizeBytes}
	ids := c.Blobs[ref]
	who := strings.Join(ids, ", ")
	id := ""
	if len(ids) > 0 {
		id = ids[0]
	}
	switch st.Status {
	case protocol.BlobOK:
	case protocol.BlobMissing:
		c.add(ProblemBlobMissing, "", 0, id, "the pack blob %s (%d bytes) of release %s is missing", st.Digest, st.SizeBytes, who)
	case protocol.BlobSizeMismatch:
		c.add(ProblemBlobChanged, "", 0, id, "the pack blob %s of release %s changed: %d bytes, its records say %d", st.Digest, who, st.ActualSizeBytes, st.SizeBytes)
	default:
		got := st.ActualDigest
		if got == "" {
			got = "another digest"
		}
		c.add(ProblemBlobChanged, "", 0, id, "the pack blob %s of release %s changed: its bytes have %s", st.Digest, who, got)
	}
}

// BlobRefs returns the blobs rep's records name, sorted by digest.
func (c *ChainReport) BlobRefs() []protocol.BlobRef {
	out := make([]protocol.BlobRef, 0, len(c.Blobs))
	for ref := range c.Blobs {
		out = append(out, ref)
	}
	slices.SortFunc(out, func(a, b protocol.BlobRef) int {
		if a.Digest != b.Digest {
			return strings.Compare(a.Digest, b.Digest)
		}
		return int(a.SizeBytes - b.SizeBytes)
	})
	return out
}
