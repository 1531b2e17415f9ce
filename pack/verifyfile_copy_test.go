package pack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 1<<20 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestVerifyFileCopy(t *testing.T) {
	dir := t.TempDir()
	b := NewBuilder("acme/copy")
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 500_000)
	if err := b.AddBytes("big.bin", big); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "p.epack")
	if _, err := b.WriteFile(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	v, err := VerifyFile(context.Background(), f, VerifyOptions{CopyTo: &buf})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(out)
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Fatal("copy differs from the file")
	}
	plain, err := SumFile(bytes.NewReader(raw))
	if err != nil || plain != v.File {
		t.Fatalf("sums %+v vs %+v (%v)", v.File, plain, err)
	}
	// A failing copy is reported apart from the (complete) verification.
	v2, err := VerifyFile(context.Background(), f, VerifyOptions{CopyTo: &failingWriter{}})
	if err != nil || v2.CopyErr == nil || v2.File != v.File {
		t.Fatalf("failing copy writer: err %v, copyErr %v", err, v2.CopyErr)
	}
}
