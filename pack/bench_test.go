package pack

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchPack writes a pack of n random artifacts of size bytes and returns its path.
func benchPack(b *testing.B, n, size int) string {
	b.Helper()
	r := rand.NewChaCha8([32]byte{7})
	bl := NewBuilder("bench")
	for i := 0; i < n; i++ {
		data := make([]byte, size)
		r.Read(data)
		if err := bl.AddBytes("blob-"+itoa(i)+".bin", data); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "bench.epack")
	if _, err := bl.WriteFile(context.Background(), out); err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkVerifyFile(b *testing.B) {
	path := benchPack(b, 4, 8<<20)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyFile(context.Background(), f, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyIntegrity(b *testing.B) {
	p, err := Open(benchPack(b, 4, 8<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.SetBytes(p.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.VerifyIntegrity(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSumFile(b *testing.B) {
	data := make([]byte, 32<<20)
	rand.NewChaCha8([32]byte{9}).Read(data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := SumFile(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenManyArtifacts(b *testing.B) {
	bl := NewBuilder("bench")
	for i := 0; i < 5000; i++ {
		bl.AddBytes("items/"+itoa(i)+".json", bytes.Repeat([]byte(`{"k":"v`+itoa(i)+`"},`), 150))
	}
	out := filepath.Join(b.TempDir(), "many.epack")
	if _, err := bl.WriteFile(context.Background(), out); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Open(out)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.VerifyIntegrity(context.Background()); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkBuilderAdd10k adds 10,000 small artifacts (the artifact cap):
// each add must cost the same whatever came before.
func BenchmarkBuilderAdd10k(b *testing.B) {
	data := []byte(`{"k":"v"}`)
	for i := 0; i < b.N; i++ {
		bl := NewBuilder("bench")
		for j := 0; j < 10000; j++ {
			if err := bl.AddBytes("items/"+itoa(j)+".json", data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
