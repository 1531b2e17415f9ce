package registry_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// seedRecords returns a valid chain of three records and their names.
func seedRecords(t testing.TB) ([]string, [][]byte) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var names []string
	var datas [][]byte
	prevName, prevSum := "", ""
	for i := 1; i <= 3; i++ {
		rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: int64(i), PrevRecord: prevName, PrevSHA256: prevSum,
			RecordedAt: at.Add(time.Duration(i) * time.Second), ReleaseID: registry.NewReleaseID(at.Add(time.Duration(i) * time.Second)),
			Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at, Labels: []string{"v1"}}
		if i == 3 {
			rel.Kind, rel.ReleaseID = registry.RecordUpdate, registry.ParseRecordNameID(names[0])
		}
		b, err := registry.EncodeRecord(rel)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, registry.RecordName(rel))
		datas = append(datas, b)
		prevName, prevSum = registry.RecordName(rel), registry.SHA256Hex(b)
	}
	return names, datas
}

// FuzzParseRecord: the chain record parser never panics, and a record it
// accepts is exactly what EncodeRecord makes of it.
func FuzzParseRecord(f *testing.F) {
	_, datas := seedRecords(f)
	for _, d := range datas {
		f.Add(d)
	}
	f.Add([]byte(`{"release_id":"rel_01JD2W3K9QXYZ5T7A8B9C0D1E2","stream":"s","file_digest":"sha256:` + strings.Repeat("0", 64) + `","size_bytes":1,"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"log":1,"kind":"release","seq":1e400}`))
	f.Add([]byte(`{"log":1,"Log":1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := registry.ParseRecord(data)
		if err != nil || rel.IsLegacy() {
			return
		}
		again, err := registry.EncodeRecord(rel)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted %q, which encodes as %q", data, again)
		}
		if _, _, ok := registry.ParseRecordName(registry.RecordName(rel)); !ok {
			t.Fatalf("accepted a record whose name %q is not a name", registry.RecordName(rel))
		}
	})
}

// FuzzVerifyChain: verification of hostile records (any bytes, any names,
// any head) ends and never panics; a valid chain verifies clean.
func FuzzVerifyChain(f *testing.F) {
	names, datas := seedRecords(f)
	f.Add(datas[0], datas[1], datas[2], names[2], int64(3), registry.SHA256Hex(datas[2]))
	f.Add(datas[2], datas[2], datas[0], names[0], int64(1), "")
	f.Fuzz(func(t *testing.T, a, b, c []byte, headName string, headSeq int64, headSum string) {
		recs := []protocol.LogRecord{{Name: names[0], Data: a}, {Name: names[1], Data: b}, {Name: names[2], Data: c}}
		head := &protocol.LogHead{Sequence: headSeq, Record: headName, RecordSHA256: "sha256:" + headSum, Data: c}
		rep := registry.VerifyChain("acme/prod", head, recs)
		if len(rep.Chain) > 4 {
			t.Fatalf("a chain of %d records from 3", len(rep.Chain))
		}
		registry.VerifyChain("acme/prod", nil, recs)
		registry.VerifyChain("acme/prod", &protocol.LogHead{Problem: "x"}, recs)
	})
}

// TestVerifyChainSeed: the seed chain verifies clean; each damage is named.
func TestVerifyChainSeed(t *testing.T) {
	names, datas := seedRecords(t)
	recs := func(ds ...[]byte) []protocol.LogRecord {
		var out []protocol.LogRecord
		for i, d := range ds {
			if d != nil {
				out = append(out, protocol.LogRecord{Name: names[i], Data: d})
			}
		}
		return out
	}
	head := &protocol.LogHead{Sequence: 3, Record: names[2], RecordSHA256: "sha256:" + registry.SHA256Hex(datas[2]), Data: datas[2]}
	if rep := registry.VerifyChain("acme/prod", head, recs(datas...)); !rep.OK() || len(rep.Chain) != 3 {
		t.Fatalf("seed chain: %+v", rep.Problems)
	}
	cases := []struct {
		name string
		recs []protocol.LogRecord
		kind string
	}{
		{"first missing", recs(nil, datas[1], datas[2]), registry.ProblemMissing},
		{"head record missing, head keeps it", recs(datas[0], datas[1], nil), registry.ProblemHeadMissing},
		{"trailing space", recs(datas[0], append(bytes.Clone(datas[1]), ' '), datas[2]), registry.ProblemAltered},
		{"not JSON", recs(datas[0], []byte("garbage"), datas[2]), registry.ProblemMalformed},
	}
	for _, c := range cases {
		rep := registry.VerifyChain("acme/prod", head, c.recs)
		found := false
		for _, p := range rep.Problems {
			found = found || p.Kind == c.kind
		}
		if !found {
			t.Errorf("%s: no %s problem: %+v", c.name, c.kind, rep.Problems)
		}
	}
	// No head while records of the log exist.
	if rep := registry.VerifyChain("acme/prod", nil, recs(datas...)); rep.OK() || len(rep.Chain) != 3 {
		t.Fatalf("no head: %+v", rep)
	}
}

// TestVerifyChainHostileMany: thousands of records that all break the
// chain end in a bounded report.
func TestVerifyChainHostileMany(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var recs []protocol.LogRecord
	for i := 1; i <= 5000; i++ {
		id := registry.NewReleaseID(at.Add(time.Duration(i) * time.Millisecond))
		rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: int64(i*2 + 1), PrevRecord: registry.NewReleaseID(at), PrevSHA256: strings.Repeat("0", 64),
			RecordedAt: at, ReleaseID: id, Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 10, CreatedAt: at}
		b, _ := registry.EncodeRecord(rel)
		recs = append(recs, protocol.LogRecord{Name: id, Data: b})
	}
	rep := registry.VerifyChain("acme/prod", nil, recs)
	if rep.OK() || len(rep.Problems) > 1001 {
		t.Fatalf("%d problems", len(rep.Problems))
	}
}
