package transfer

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// writeBehind passes every byte through in order and starts the write-out
// of each full chunk once, the rest being left to the fsync.
func TestWriteBehindWritesEveryByte(t *testing.T) {
	for _, size := range []int{0, 1, writeBehindChunk - 1, writeBehindChunk, writeBehindChunk + 1, 2*writeBehindChunk + 4097} {
		data := make([]byte, size)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "copy")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := &writeBehind{f: f}
		// Odd-sized writes, as the verification pass gives them.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1<<20+3)
			if k, err := w.Write(rest[:n]); err != nil || k != n {
				t.Fatalf("size %d: Write = %d, %v", size, k, err)
			}
			rest = rest[n:]
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: file differs (%d bytes, %v)", size, len(got), err)
		}
		if w.off != int64(size) || w.out.started > w.off || w.off-w.out.started >= writeBehindChunk {
			t.Fatalf("size %d: off %d, write-out started for %d bytes", size, w.off, w.out.started)
		}
	}
}
