package pack

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
)

// zip64InComment rewrites the end of an archive written by ziptest.Build:
// a ZIP64 locator, then an end record with a saturated offset and a comment
// of the maximal 65,535 bytes whose last 56 bytes are the ZIP64 end record
// the locator points at. archive/zip reads such an archive; its ZIP64
// record ends exactly at the end of the file, 65,577 bytes after the
// locator, so it cannot be served from the window the locator was read in.
func zip64InComment(b []byte) []byte {
	le := binary.LittleEndian
	body, end := b[:len(b)-22], b[len(b)-22:]
	count, cdSize, cdOffset := le.Uint16(end[10:]), le.Uint32(end[12:]), le.Uint32(end[16:])
	const commentLen = 65535
	out := append([]byte(nil), body...)
	recPos := uint64(len(out)) + 20 + 22 + commentLen - 56
	out = append(out, zip64Locator(recPos, 1)...)
	var eocd [22]byte
	le.PutUint32(eocd[0:], 0x06054b50)
	le.PutUint16(eocd[8:], count)
	le.PutUint16(eocd[10:], count)
	le.PutUint32(eocd[12:], cdSize)
	le.PutUint32(eocd[16:], 0xFFFFFFFF)
	le.PutUint16(eocd[20:], commentLen)
	out = append(out, eocd[:]...)
	out = append(out, make([]byte, commentLen-56)...)
	return append(out, zip64EndRecord(uint64(count), uint64(cdSize), uint64(cdOffset))...)
}

// A read that ends exactly at the end of the archive, and that the local
// header check's read window has to fetch, is a complete read, not a short
// one: a pack whose ZIP64 end record is the last thing in the file opens.
func TestZip64RecordAtTheVeryEnd(t *testing.T) {
	b := zip64InComment(zipPack(t, mustJSON(t, testManifest(sample...)), sample))
	p, err := openBytes(b)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	defer p.Close()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, err := p.ReadArtifact(sample[1].path); err != nil || string(got) != string(sample[1].data) {
		t.Fatalf("%q %v", got, err)
	}
	f, err := openFileBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := VerifyFile(context.Background(), f, VerifyOptions{}); err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
}

// openFileBytes writes b to a temp file and opens it for reading.
func openFileBytes(t *testing.T, b []byte) (*os.File, error) {
	t.Helper()
	return os.Open(writeTemp(t, b))
}
