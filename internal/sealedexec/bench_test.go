package sealedexec

import (
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkSeal10MB(b *testing.B) {
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i * 13)
	}
	p := filepath.Join(b.TempDir(), "epack-remote-big")
	os.WriteFile(p, data, 0o755)
	d, _ := HashFile(p)
	for _, memfd := range []bool{true, false} {
		b.Run(map[bool]string{true: "memfd", false: "tempcopy"}[memfd], func(b *testing.B) {
			was := SetMemfd(memfd)
			defer SetMemfd(was)
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				s, err := Seal(p, d)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
	b.Run("hashonly", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			HashFile(p)
		}
	})
}
