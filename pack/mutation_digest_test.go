package pack

import (
	"bytes"
	"crypto/rand"
	"io"
	"runtime"
	"testing"
)

// PackDigestInput sorts by path with a stable sort, so artifacts that share
// a path keep their manifest order, and the input of artifacts with empty
// fields is still one TAB and one LF each (COMPAT §1.5).
func TestPackDigestInputEdgeCases(t *testing.T) {
	dA, dB := DigestBytes([]byte("a")), DigestBytes([]byte("b"))
	tests := []struct {
		name string
		arts []Artifact
		want string
	}{
		{"same path keeps manifest order",
			[]Artifact{
				{Type: "embedded", Path: "artifacts/x", Digest: dB},
				{Type: "embedded", Path: "artifacts/w", Digest: dA},
				{Type: "embedded", Path: "artifacts/x", Digest: dA},
			},
			"artifacts/w\t" + dA + "\nartifacts/x\t" + dB + "\nartifacts/x\t" + dA + "\n"},
		{"same path, other order",
			[]Artifact{
				{Type: "embedded", Path: "artifacts/x", Digest: dA},
				{Type: "embedded", Path: "artifacts/x", Digest: dB},
			},
			"artifacts/x\t" + dA + "\nartifacts/x\t" + dB + "\n"},
		{"empty path and digest", []Artifact{{Type: "embedded"}}, "\t\n"},
		{"two empty artifacts", []Artifact{{Type: "embedded"}, {Type: "embedded"}}, "\t\n\t\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(PackDigestInput(tc.arts)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if got, want := ComputePackDigest(tc.arts), DigestBytes([]byte(tc.want)); got != want {
				t.Fatalf("ComputePackDigest %s, want %s", got, want)
			}
		})
	}
}

// The hashing pass of VerifyFile keeps a ring of eight buffers: 1 MiB each
// for a large file, the size of the file (rounded up to 4 KiB) for a small
// one, so memory neither grows with the file nor costs 8 MiB for a tiny pack.
func TestSumFileBufferMemory(t *testing.T) {
	tests := []struct {
		name     string
		size     int64
		maxAlloc uint64
	}{
		{"tiny file", 10 << 10, 1 << 20},
		{"file larger than the ring", 24 << 20, 12 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := SumFile(io.LimitReader(zeroReader{}, tc.size))
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got, copyErr, err := sumFile(io.LimitReader(zeroReader{}, tc.size), nil, nil, tc.size)
			runtime.ReadMemStats(&after)
			if err != nil || copyErr != nil {
				t.Fatal(err, copyErr)
			}
			if got != want || got.Size != tc.size {
				t.Fatalf("sums %+v, want %+v", got, want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > tc.maxAlloc {
				t.Fatalf("hashing %d bytes allocated %d bytes (limit %d)", tc.size, n, tc.maxAlloc)
			}
		})
	}
}

// A reader that yields more than the size hint (a file that grew while it
// was read) is still hashed and copied whole: the ring of small buffers is
// reused many times over, each buffer freed once all three consumers are
// done with it.
func TestSumFileCopyBeyondSizeHint(t *testing.T) {
	data := make([]byte, 100<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	want, err := SumFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, hint := range []int64{1, 4 << 10, 10 << 10} {
		var copied bytes.Buffer
		got, copyErr, err := sumFile(bytes.NewReader(data), &copied, nil, hint)
		if err != nil || copyErr != nil {
			t.Fatal(err, copyErr)
		}
		if got != want || !bytes.Equal(copied.Bytes(), data) {
			t.Fatalf("hint %d: sums %+v (want %+v), copied %d of %d bytes", hint, got, want, copied.Len(), len(data))
		}
	}
}
