package registry_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/registry"
)

// logRecord is a valid first record of a stream's log; change adjusts it
// before it is encoded.
func logRecord(t *testing.T, change func(*registry.Release)) []byte {
	t.Helper()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rel := &registry.Release{Log: registry.LogVersion, Kind: registry.RecordRelease, Seq: 1, RecordedAt: at,
		ReleaseID: registry.NewReleaseID(at), Stream: "acme/prod", FileDigest: "sha256:" + strings.Repeat("ab", 32),
		SizeBytes: 10, CreatedAt: at}
	if change != nil {
		change(rel)
	}
	b, err := registry.EncodeRecord(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A record name is a release id, or a release id and a positive sequence
// number of at most 18 digits without a sign or leading zero.
func TestParseRecordNameSequence(t *testing.T) {
	id := registry.NewReleaseID(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	eighteen := "1" + strings.Repeat("0", 17)
	for _, tc := range []struct {
		name string
		seq  int64
		ok   bool
	}{
		{id, 0, true},
		{id + "/1", 1, true},
		{id + "/" + eighteen, 100000000000000000, true},
		{id + "/" + eighteen + "0", 0, false}, // 19 digits, still an int64
		{id + "/0", 0, false},
		{id + "/01", 0, false},
		{id + "/+0", 0, false},
		{id + "/+1", 0, false}, // the canonical form only: a sign is not a digit
		{id + "/-1", 0, false},
		{id + "/", 0, false},
		{id + "/x", 0, false},
	} {
		gotID, seq, ok := registry.ParseRecordName(tc.name)
		if ok != tc.ok || seq != tc.seq || ok && gotID != id {
			t.Errorf("ParseRecordName(%q) = %q, %d, %v; want %q, %d, %v", tc.name, gotID, seq, ok, id, tc.seq, tc.ok)
		}
	}
}

// ParseRecord reads a record of up to MaxRecordBytes; one byte more is
// refused unread.
func TestParseRecordSizeBound(t *testing.T) {
	legacy := []byte(`{"release_id":"` + registry.NewReleaseID(time.Now()) + `","stream":"acme/prod","file_digest":"sha256:` +
		strings.Repeat("0", 64) + `","size_bytes":1,"created_at":"2026-01-01T00:00:00Z"}`)
	pad := func(n int) []byte {
		return append(bytes.Clone(legacy), bytes.Repeat([]byte(" "), n-len(legacy))...)
	}
	rel, err := registry.ParseRecord(pad(registry.MaxRecordBytes))
	if err != nil || rel == nil || !rel.IsLegacy() {
		t.Fatalf("a legacy record of exactly MaxRecordBytes: %+v, %v", rel, err)
	}
	if _, err := registry.ParseRecord(pad(registry.MaxRecordBytes + 1)); !errors.Is(err, registry.ErrMalformedRecord) || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a record one byte over MaxRecordBytes: %v", err)
	}
}

// Every field of a record of the log is checked, the pack digest and the
// hashes it names included (lowercase hex, 64 digits).
func TestParseRecordChecksHashesAndDigest(t *testing.T) {
	upper := strings.Repeat("AB", 32)
	notHex := strings.Repeat("g", 64)
	prev := registry.NewReleaseID(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name   string
		change func(*registry.Release)
		ok     bool
	}{
		{"valid first record", nil, true},
		{"valid second record", func(r *registry.Release) { r.Seq, r.PrevRecord, r.PrevSHA256 = 2, prev, strings.Repeat("0f", 32) }, true},
		{"valid adopted legacy record", func(r *registry.Release) {
			r.Legacy = []registry.LegacyRecord{{ReleaseID: prev, SHA256: strings.Repeat("0f", 32)}}
		}, true},
		{"file digest not sha256", func(r *registry.Release) { r.FileDigest = "md5:" + strings.Repeat("ab", 32) }, false},
		{"file digest upper-case", func(r *registry.Release) { r.FileDigest = "sha256:" + upper }, false},
		{"prev_sha256 upper-case hex", func(r *registry.Release) { r.Seq, r.PrevRecord, r.PrevSHA256 = 2, prev, upper }, false},
		{"prev_sha256 not hex", func(r *registry.Release) { r.Seq, r.PrevRecord, r.PrevSHA256 = 2, prev, notHex }, false},
		{"legacy sha256 not hex", func(r *registry.Release) {
			r.Legacy = []registry.LegacyRecord{{ReleaseID: prev, SHA256: notHex}}
		}, false},
		{"legacy release id malformed", func(r *registry.Release) {
			r.Legacy = []registry.LegacyRecord{{ReleaseID: "rel_x", SHA256: strings.Repeat("0f", 32)}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel, err := registry.ParseRecord(logRecord(t, tc.change))
			if tc.ok {
				if err != nil || rel == nil || rel.IsLegacy() {
					t.Fatalf("refused: %+v, %v", rel, err)
				}
				return
			}
			if !errors.Is(err, registry.ErrMalformedRecord) {
				t.Fatalf("accepted (%+v, %v), want ErrMalformedRecord", rel, err)
			}
		})
	}
}
