package pack

import (
	"context"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// deflatedPack returns a pack with one deflated artifact of n bytes that
// compress little (so the compressed entry is about as large).
func deflatedPack(t testing.TB, n int) ([]byte, art) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(64)) // 6 bits of entropy a byte
	}
	a := art{"artifacts/big.bin", data}
	b := ziptest.Build(ziptest.File("manifest.json", mustJSON(t, testManifest(a))), ziptest.Dir("artifacts/"),
		ziptest.Entry{Name: a.path, Data: a.data, Deflate: true})
	return b, a
}

// Verifying streams: the memory it allocates does not grow with the size of
// the artifact (COMPAT §1.10; ARCHITECTURE "memory independent of artifact
// and pack size"). A read-ahead buffer sized to the entry would show here.
func TestVerifyMemoryIndependentOfArtifactSize(t *testing.T) {
	const size = 4 << 20
	b, _ := deflatedPack(t, size)
	p, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > size/4 {
		t.Fatalf("verifying a %d-byte artifact allocated %d bytes", size, got)
	}
}

// A closed artifact reader cannot be read again: its decompressor has gone
// back to the pool, where another reader may already be using it.
func TestArtifactReadAfterClose(t *testing.T) {
	b, a := deflatedPack(t, 1<<20)
	p, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rc, err := p.OpenArtifact(a.path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := rc.Read(buf); err == nil || err == io.EOF {
		t.Fatalf("read %d bytes after Close (err %v)", n, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
