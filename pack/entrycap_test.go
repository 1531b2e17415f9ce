package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// countingReaderAt counts the bytes asked for, so a test can tell an early
// refusal (the end of the file only) from one made after archive/zip read
// the whole central directory.
type countingReaderAt struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// openCounting opens b and returns the bytes read doing so.
func openCounting(b []byte) (int64, error) {
	c := &countingReaderAt{r: bytes.NewReader(b)}
	p, err := OpenReaderAt(c, int64(len(b)))
	if err == nil {
		p.Close()
	}
	return c.n.Load(), err
}

// endRecord describes how withEnd rewrites the end of an archive.
type endRecord struct {
	records    uint16 // entry counts of the classic end record
	dirSize    *uint32
	dirOffset  *uint32
	trailing   int    // bytes of zeros after the record
	zip64      bool   // write a ZIP64 end record and its locator
	zip64Count uint64 // the ZIP64 record's entry counts
	badDisks   bool   // a locator that archive/zip does not take as ZIP64
}

// withEnd replaces the end-of-central-directory record of an archive
// written by ziptest.Build (22 bytes, no comment) by e: an optional ZIP64
// end record and locator right after the central directory, then a classic
// record with the counts (and offset) given.
func withEnd(b []byte, e endRecord) []byte {
	le := binary.LittleEndian
	body, end := b[:len(b)-22], b[len(b)-22:]
	cdSize, cdOffset := le.Uint32(end[12:]), le.Uint32(end[16:])
	out := append([]byte(nil), body...)
	if e.zip64 {
		recPos := uint64(len(out))
		out = append(out, zip64EndRecord(e.zip64Count, uint64(cdSize), uint64(cdOffset))...)
		disks := uint32(1)
		if e.badDisks {
			disks = 2
		}
		out = append(out, zip64Locator(recPos, disks)...)
	}
	var rec [22]byte
	le.PutUint32(rec[0:], 0x06054b50)
	le.PutUint16(rec[8:], e.records)
	le.PutUint16(rec[10:], e.records)
	le.PutUint32(rec[12:], cdSize)
	le.PutUint32(rec[16:], cdOffset)
	if e.dirSize != nil {
		le.PutUint32(rec[12:], *e.dirSize)
	}
	if e.dirOffset != nil {
		le.PutUint32(rec[16:], *e.dirOffset)
	}
	return append(append(out, rec[:]...), make([]byte, e.trailing)...)
}

// bareEnd returns a 22-byte archive: only an end record, declaring n entries.
func bareEnd(n uint16) []byte {
	var rec [22]byte
	binary.LittleEndian.PutUint32(rec[0:], 0x06054b50)
	binary.LittleEndian.PutUint16(rec[8:], n)
	binary.LittleEndian.PutUint16(rec[10:], n)
	return rec[:]
}

// locatorFirst returns an archive that starts with its ZIP64 locator, then
// the end record (offset saturated, no entries) whose comment holds the
// ZIP64 end record declaring n entries: archive/zip reads that count.
func locatorFirst(n uint64) []byte {
	le := binary.LittleEndian
	var end [22]byte
	le.PutUint32(end[0:], 0x06054b50)
	le.PutUint32(end[16:], 0xFFFFFFFF)
	le.PutUint16(end[20:], 56)
	return append(append(zip64Locator(20+22, 1), end[:]...), zip64EndRecord(n, 0, 0)...)
}

// recordFirst returns an archive that starts with its ZIP64 end record
// (declaring n entries), then the locator pointing at offset 0 and the end
// record (offset saturated, no entries).
func recordFirst(n uint64) []byte {
	var end [22]byte
	binary.LittleEndian.PutUint32(end[0:], 0x06054b50)
	binary.LittleEndian.PutUint32(end[16:], 0xFFFFFFFF)
	return append(append(zip64EndRecord(n, 0, 0), zip64Locator(0, 1)...), end[:]...)
}

// zip64EndRecord is a ZIP64 end of central directory record (56 bytes,
// version 4.5) declaring count entries and the directory's size and offset.
func zip64EndRecord(count, cdSize, cdOffset uint64) []byte {
	le := binary.LittleEndian
	rec := make([]byte, 56)
	le.PutUint32(rec[0:], 0x06064b50)
	le.PutUint64(rec[4:], 44)
	le.PutUint16(rec[12:], 45)
	le.PutUint16(rec[14:], 45)
	le.PutUint64(rec[24:], count)
	le.PutUint64(rec[32:], count)
	le.PutUint64(rec[40:], cdSize)
	le.PutUint64(rec[48:], cdOffset)
	return rec
}

// zip64Locator is a ZIP64 end of central directory locator (20 bytes)
// pointing at recPos, in an archive of disks disks.
func zip64Locator(recPos uint64, disks uint32) []byte {
	loc := make([]byte, 20)
	binary.LittleEndian.PutUint32(loc[0:], 0x07064b50)
	binary.LittleEndian.PutUint64(loc[8:], recPos)
	binary.LittleEndian.PutUint32(loc[16:], disks)
	return loc
}

// manyEntries returns a pack of n entries in all: manifest.json,
// artifacts/, and attestation files (not listed in the manifest, not read
// at open), so every n from 2 up is a pack that opens.
func manyEntries(t testing.TB, n int) []byte {
	t.Helper()
	es := []ziptest.Entry{ziptest.File("manifest.json", mustJSON(t, testManifest())), ziptest.Dir("artifacts/")}
	for i := 0; len(es) < n; i++ {
		es = append(es, ziptest.File(fmt.Sprintf("attestations/a%05d.sigstore.json", i), nil))
	}
	return ziptest.Build(es...)
}

// tailBudget is more than the precheck reads (the last 65 KiB, the ZIP64
// locator and record) and far less than the central directory of the
// large archives below, so a refusal within it was made before archive/zip
// read the entries.
const tailBudget = 128 << 10

// The end record declares how many entries follow. archive/zip replaces a
// saturated count (0xFFFF, or a saturated size or offset) by the ZIP64
// record's 64-bit count, and reads every header it finds whatever the count
// says, so the declared count must be judged before it runs, in both forms.
func TestDeclaredEntryCountRefusedBeforeReading(t *testing.T) {
	small := zipPack(t, mustJSON(t, testManifest(sample...)), sample)
	const nSmall = 4 // manifest.json, artifacts/, two artifacts
	off := ziptest.U32(0xFFFFFFFF)
	// archive/zip's trigger for the size is 0xFFFF, not 0xFFFFFFFF.
	size := ziptest.U32(0xFFFF)
	// archive/zip finds an end record up to 65 KiB (66,560 bytes) from the
	// end, farther than a maximal comment reaches.
	farFromEnd := 65*1024 - 22
	for _, tc := range []struct {
		name string
		zip  []byte
		code errcode.Code // "" = opens
	}{
		{"as built", small, ""},
		{"ZIP64 record, true count", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: nSmall}), ""},
		{"classic count at the limit", withEnd(small, endRecord{records: MaxEntries}), errcode.NotAZip},
		{"classic count over the limit", withEnd(small, endRecord{records: MaxEntries + 1}), errcode.TooManyArtifacts},
		{"0xFFFF without a ZIP64 record", withEnd(small, endRecord{records: 0xFFFF}), errcode.TooManyArtifacts},
		{"0xFFFF, locator archive/zip ignores", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: nSmall, badDisks: true}), errcode.TooManyArtifacts},
		{"ZIP64 count at the limit", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: MaxEntries}), errcode.NotAZip},
		{"ZIP64 count over the limit", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: MaxEntries + 1}), errcode.TooManyArtifacts},
		{"ZIP64 count 2^40", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: 1 << 40}), errcode.TooManyArtifacts},
		{"ZIP64 count 2^64-1", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: ^uint64(0)}), errcode.TooManyArtifacts},
		{"ZIP64 count, low 16 bits match", withEnd(small, endRecord{records: 0xFFFF, zip64: true, zip64Count: 1<<16 + nSmall}), errcode.TooManyArtifacts},
		{"saturated offset, small classic count", withEnd(small, endRecord{records: nSmall, dirOffset: off, zip64: true, zip64Count: 1 << 40}), errcode.TooManyArtifacts},
		{"saturated size, small classic count", withEnd(small, endRecord{records: nSmall, dirSize: size, zip64: true, zip64Count: 1 << 40}), errcode.TooManyArtifacts},
		{"record 65 KiB from the end, count over the limit", withEnd(small, endRecord{records: MaxEntries + 1, trailing: farFromEnd}), errcode.TooManyArtifacts},
		{"bare end record over the limit", bareEnd(MaxEntries + 1), errcode.TooManyArtifacts},
		{"bare end record at the limit", bareEnd(MaxEntries), errcode.NotAZip},
		{"ZIP64 locator at offset 0", locatorFirst(1 << 40), errcode.TooManyArtifacts},
		{"ZIP64 record at offset 0", recordFirst(1 << 40), errcode.TooManyArtifacts},
		{"saturated offset, true ZIP64 count", withEnd(small, endRecord{records: nSmall, dirOffset: off, zip64: true, zip64Count: nSmall}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openCounting(tc.zip)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

// Archives that really hold more entries than the limit are refused from
// their end record alone: the central directory (over 1 MiB here) is never
// read, so the memory spent does not grow with the count.
func TestTooManyRealEntriesRefusedFromTheEndRecord(t *testing.T) {
	big := manyEntries(t, MaxEntries+1000)
	if len(big) < 8*tailBudget {
		t.Fatalf("fixture too small to tell a full read from a tail read: %d bytes", len(big))
	}
	for _, tc := range []struct {
		name string
		zip  []byte
	}{
		{"classic", big},
		{"ZIP64", withEnd(big, endRecord{records: 0xFFFF, zip64: true, zip64Count: MaxEntries + 1000})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read, err := openCounting(tc.zip)
			wantCode(t, err, errcode.TooManyArtifacts)
			if read > tailBudget {
				t.Fatalf("read %d bytes of a %d-byte archive before refusing it (want at most %d)", read, len(tc.zip), tailBudget)
			}
		})
	}
}

// Exactly MaxEntries entries (directories included) open; one more does
// not, with the count in the error.
func TestEntryLimitBoundary(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{MaxEntries, true}, {MaxEntries + 1, false}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			_, err := openBytes(manyEntries(t, tc.n))
			if tc.ok {
				if err != nil {
					t.Fatalf("%d entries refused: %v", tc.n, err)
				}
				return
			}
			wantCode(t, err, errcode.TooManyArtifacts)
		})
	}
}
