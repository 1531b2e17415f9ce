package pack

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// hiddenBeforeZip64Directory rewrites a ziptest archive: hidden bytes go
// between the last entry and the central directory, a ZIP64 end record
// (giving the real directory offset) and its locator follow the directory,
// and the classic end record, with the trigger set by sat, keeps the old
// offset: the end of the last entry.
func hiddenBeforeZip64Directory(b, hidden []byte, sat func(end []byte)) []byte {
	le := binary.LittleEndian
	body, end := b[:len(b)-22], b[len(b)-22:]
	count, cdSize, cdOffset := le.Uint16(end[10:]), le.Uint32(end[12:]), le.Uint32(end[16:])
	out := append([]byte(nil), body[:cdOffset]...)
	out = append(out, hidden...)
	newCD := uint64(len(out))
	out = append(out, body[cdOffset:]...)
	recPos := uint64(len(out))
	out = append(out, zip64EndRecord(uint64(count), uint64(cdSize), newCD)...)
	out = append(out, zip64Locator(recPos, 1)...)
	e := append([]byte(nil), end...) // offset still cdOffset: the lie
	sat(e)
	return append(out, e...)
}

// archive/zip takes the central directory from the ZIP64 end record when
// the end record's entry count or directory size is 0xFFFF, not only when
// its offset is saturated. The layout check must look for the directory
// where archive/zip does, or bytes hidden before it go unnoticed.
func TestHiddenBytesBeforeAZip64DirectoryRefused(t *testing.T) {
	le := binary.LittleEndian
	// A complete local entry for a file the manifest does not know.
	hidden := ziptest.Build(ziptest.File("evil.sh", []byte("#!/bin/sh\necho pwned\n")))
	hidden = hidden[:bytes.Index(hidden, []byte{0x50, 0x4b, 0x01, 0x02})]
	valid := zipPack(t, mustJSON(t, testManifest(sample...)), sample)
	for _, tc := range []struct {
		name string
		sat  func(end []byte)
	}{
		{"entry count 0xFFFF", func(e []byte) { le.PutUint16(e[8:], 0xFFFF); le.PutUint16(e[10:], 0xFFFF) }},
		{"directory size 0xFFFF", func(e []byte) { le.PutUint32(e[12:], 0xFFFF) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hiddenBeforeZip64Directory(valid, hidden, tc.sat)
			if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil || len(zr.File) != 4 {
				t.Fatalf("test archive unreadable by archive/zip: %v", err)
			}
			_, err := openBytes(b)
			wantCode(t, err, errcode.NotAZip, "belong to no entry")
			// The same archive without the hidden bytes is a valid pack.
			ok := hiddenBeforeZip64Directory(valid, nil, tc.sat)
			p, err := openBytes(ok)
			if err != nil {
				t.Fatalf("without hidden bytes: %v", err)
			}
			p.Close()
		})
	}
}

// A central directory of exactly 0xFFFF bytes without ZIP64 records is
// read by archive/zip from the classic end record, and so it is here: a
// size of 0xFFFF alone is no reason to refuse, nor to look elsewhere.
func TestDirectorySize0xFFFFWithoutZip64(t *testing.T) {
	manifest := mustJSON(t, testManifest(sample...))
	build := func(pad int) []byte {
		var extra []byte
		if pad > 0 {
			extra = ziptest.ExtraField(0xCAFE, make([]byte, pad))
		}
		return ziptest.Build(ziptest.Entry{Name: "manifest.json", Data: manifest, Extra: extra}, ziptest.Dir("artifacts/"),
			ziptest.File(sample[0].path, sample[0].data), ziptest.File(sample[1].path, sample[1].data))
	}
	cdSize := func(b []byte) int { return int(binary.LittleEndian.Uint32(b[len(b)-22+12:])) }
	b := build(0xFFFF - cdSize(build(0)) - 4)
	if got := cdSize(b); got != 0xFFFF {
		t.Fatalf("central directory is %d bytes", got)
	}
	if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	p, err := openBytes(b)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	p.Close()
	// Bytes hidden before that directory are still found.
	cdOff := binary.LittleEndian.Uint32(b[len(b)-22+16:])
	hidden := append(append(append([]byte(nil), b[:cdOff]...), "hidden"...), b[cdOff:len(b)-22]...)
	end := append([]byte(nil), b[len(b)-22:]...)
	binary.LittleEndian.PutUint32(end[16:], cdOff+6)
	_, err = openBytes(append(hidden, end...))
	wantCode(t, err, errcode.NotAZip, "belong to no entry")
}

// The end record taken is the one archive/zip takes: the last whose comment
// fits in the file. Bytes after it, or a record hidden in the comment of an
// earlier one, are refused rather than read past.
func TestEndRecordArchiveZipTakes(t *testing.T) {
	valid := zipPack(t, mustJSON(t, testManifest(sample...)), sample)
	// Trailing bytes after the end record (no comment).
	trailing := append(append([]byte(nil), valid...), "trailing"...)
	// A comment that holds a second end record with a shorter comment:
	// archive/zip takes that inner record, whose offset points elsewhere.
	end := valid[len(valid)-22:]
	inner := append(append([]byte(nil), end...), "x"...)
	binary.LittleEndian.PutUint16(inner[20:], 0)
	outer := append([]byte(nil), end...)
	binary.LittleEndian.PutUint16(outer[20:], uint16(len(inner)))
	nested := append(append(append([]byte(nil), valid[:len(valid)-22]...), outer...), inner...)
	for name, b := range map[string][]byte{"trailing bytes": trailing, "record in the comment": nested} {
		t.Run(name, func(t *testing.T) {
			if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatalf("archive/zip: %v", err)
			}
			_, err := openBytes(b)
			wantCode(t, err, errcode.NotAZip)
		})
	}
}
