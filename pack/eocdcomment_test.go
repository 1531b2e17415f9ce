package pack

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// withComment sets the archive comment of b (built by ziptest, no comment).
func withComment(b []byte, comment []byte) []byte {
	out := append([]byte(nil), b...)
	binary.LittleEndian.PutUint16(out[len(out)-2:], uint16(len(comment)))
	return append(out, comment...)
}

// An archive comment, up to the 65,535 bytes the format allows, moves the
// end record away from the end of the file; the pack still opens.
func TestArchiveCommentUpToTheMaximum(t *testing.T) {
	valid := zipPack(t, mustJSON(t, testManifest(sample...)), sample)
	for _, n := range []int{1, 1000, 65535} {
		b := withComment(valid, bytes.Repeat([]byte("c"), n))
		if err := openAndVerify(b); err != nil {
			t.Errorf("comment of %d bytes: %v", n, err)
		}
	}
}
