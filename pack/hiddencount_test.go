package pack_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
)

// The refusal of hidden bytes says how many there are and where, so a user
// can find them with a hex viewer.
func TestHiddenBytesCountedInTheError(t *testing.T) {
	valid := validPackBytes(t)
	eocd := bytes.LastIndex(valid, []byte{0x50, 0x4b, 0x05, 0x06})
	cdOff := int(binary.LittleEndian.Uint32(valid[eocd+16:]))
	gapAt := localHeader(t, valid, "artifacts/a.json")
	for _, tc := range []struct {
		name string
		zip  []byte
		want string
	}{
		{"prefix", insertAt(t, valid, 0, make([]byte, 7)), "7 bytes at offset 0 before entry"},
		{"gap between entries", insertAt(t, valid, gapAt, make([]byte, 5)), fmt.Sprintf("5 bytes at offset %d before entry %q", gapAt, "artifacts/a.json")},
		{"gap before the central directory", insertAt(t, valid, cdOff, make([]byte, 9)), "9 bytes between the last entry and the central directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pack.OpenReaderAt(bytes.NewReader(tc.zip), int64(len(tc.zip)))
			if errcode.Of(err) != errcode.NotAZip || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}
