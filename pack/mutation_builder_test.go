package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// zeroReader yields zero bytes forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeAndOpen writes b into a temp folder, opens the pack and verifies it.
func writeAndOpen(t *testing.T, b *Builder) *Pack {
	t.Helper()
	out := filepath.Join(t.TempDir(), "b.epack")
	if _, err := b.WriteFile(context.Background(), out); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatalf("VerifyIntegrity: %v", err)
	}
	return p
}

// An artifact of exactly MaxArtifactSize bytes is accepted whole by
// AddBytes, AddReader and AddFile (COMPAT §1.13); one byte more is refused.
func TestBuilderArtifactSizeLimitExact(t *testing.T) {
	big := make([]byte, MaxArtifactSize+1)
	wantDigest := DigestBytes(big[:MaxArtifactSize])
	dir := t.TempDir()
	sparse := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exact, over := sparse("exact.bin", MaxArtifactSize), sparse("over.bin", MaxArtifactSize+1)
	tests := []struct {
		name string
		add  func(b *Builder) error
		ok   bool
	}{
		{"AddBytes at the limit", func(b *Builder) error { return b.AddBytes("x.bin", big[:MaxArtifactSize]) }, true},
		{"AddBytes one over", func(b *Builder) error { return b.AddBytes("x.bin", big) }, false},
		{"AddReader at the limit", func(b *Builder) error {
			return b.AddReader("x.bin", io.LimitReader(zeroReader{}, MaxArtifactSize))
		}, true},
		{"AddFile at the limit", func(b *Builder) error { return b.AddFile("x.bin", exact) }, true},
		{"AddFile one over", func(b *Builder) error { return b.AddFile("x.bin", over) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("s")
			err := tc.add(b)
			if !tc.ok {
				wantCode(t, err, errcode.ArtifactTooLarge)
				if len(b.arts) != 0 {
					t.Fatal("refused artifact was added")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused at the limit: %v", err)
			}
			m, _, err := b.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Artifacts) != 1 || m.Artifacts[0].Size != MaxArtifactSize || m.Artifacts[0].Digest != wantDigest {
				t.Fatalf("artifact recorded as %+v, want size %d digest %s", m.Artifacts, MaxArtifactSize, wantDigest)
			}
		})
	}
}

// A pack may hold exactly MaxArtifacts artifacts.
func TestBuilderArtifactCountLimitExact(t *testing.T) {
	b := NewBuilder("s")
	for i := range MaxArtifacts {
		if err := b.AddBytes(fmt.Sprintf("a%05d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	m, _, err := b.Manifest()
	if err != nil {
		t.Fatalf("%d artifacts refused: %v", MaxArtifacts, err)
	}
	if len(m.Artifacts) != MaxArtifacts {
		t.Fatalf("%d artifacts in the manifest", len(m.Artifacts))
	}
	if err := b.AddBytes("one-more", nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Manifest()
	wantCode(t, err, errcode.TooManyArtifacts)
}

// Artifacts may total exactly MaxReadBudget bytes; one byte more is refused.
// The sizes are recorded directly: reading 2 GiB would only repeat AddFile.
func TestBuilderReadBudgetExact(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra int64
		ok    bool
	}{{"at the budget", 0, true}, {"one byte over", 1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("s")
			left := int64(MaxReadBudget) + tc.extra
			for i := 0; left > 0; i++ {
				n := min(left, MaxArtifactSize)
				left -= n
				b.add(&buildArtifact{meta: Artifact{Type: "embedded", Path: fmt.Sprintf("artifacts/part%02d", i), Size: n, Digest: DigestBytes(nil)}})
			}
			m, _, err := b.Manifest()
			if !tc.ok {
				wantCode(t, err, errcode.ArtifactTooLarge, "limit 2 GiB")
				return
			}
			if err != nil {
				t.Fatalf("refused at the budget: %v", err)
			}
			var total int64
			for _, a := range m.Artifacts {
				total += a.Size
			}
			if total != MaxReadBudget {
				t.Fatalf("total %d", total)
			}
		})
	}
}

// The builder's manifest.json may be exactly MaxManifestSize bytes.
func TestBuilderManifestSizeLimitExact(t *testing.T) {
	manifest := func(desc int) ([]byte, error) {
		b := NewBuilder("s")
		b.Now = fixedNow
		if err := b.AddBytes("a.txt", []byte("a"), ArtifactOptions{Description: strings.Repeat("d", desc)}); err != nil {
			t.Fatal(err)
		}
		_, raw, err := b.Manifest()
		return raw, err
	}
	raw, err := manifest(1)
	if err != nil {
		t.Fatal(err)
	}
	fill := 1 + MaxManifestSize - len(raw)
	raw, err = manifest(fill)
	if err != nil {
		t.Fatalf("manifest of %d bytes refused: %v", MaxManifestSize, err)
	}
	if len(raw) != MaxManifestSize {
		t.Fatalf("manifest is %d bytes, want %d", len(raw), MaxManifestSize)
	}
	_, err = manifest(fill + 1)
	wantCode(t, err, errcode.ArtifactTooLarge)
}

// deflater measures what compress would make of data: the same deflate
// level, one writer reused (allocating one per try is slow).
type deflater struct {
	buf bytes.Buffer
	fw  *flate.Writer
}

func newDeflater(t *testing.T) *deflater {
	t.Helper()
	d := &deflater{}
	fw, err := flate.NewWriter(&d.buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	d.fw = fw
	return d
}

func (d *deflater) len(t *testing.T, data []byte) int {
	t.Helper()
	d.buf.Reset()
	d.fw.Reset(&d.buf)
	if _, err := d.fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := d.fw.Close(); err != nil {
		t.Fatal(err)
	}
	return d.buf.Len()
}

// zerosWithRatio returns the shortest run of zero bytes whose deflated size
// c makes the uncompressed size exactly 100·c (exact) or 100·c plus a
// remainder (over).
func zerosWithRatio(t *testing.T, exact bool) []byte {
	t.Helper()
	df := newDeflater(t)
	zeros := make([]byte, 1<<20)
	for n := 200; n < len(zeros); n++ {
		d := zeros[:n]
		c := df.len(t, d)
		if n/c == MaxRatio && (n%c == 0) == exact {
			return d
		}
	}
	t.Fatal("no run of zeros with that ratio")
	return nil
}

// sameSizeDeflated returns short data that deflate neither grows nor shrinks.
func sameSizeDeflated(t *testing.T) []byte {
	t.Helper()
	df := newDeflater(t)
	for _, pat := range []string{"ab", "abc", "abcd", "abcde", "xyz", "hello"} {
		for n := 1; n < 40; n++ {
			d := bytes.Repeat([]byte(pat), n)
			if df.len(t, d) == len(d) {
				return d
			}
		}
	}
	t.Fatal("no data that deflates to its own size")
	return nil
}

// In-memory artifacts are deflated when that makes them smaller and keeps
// the ratio within MaxRatio (exactly 100:1 is allowed), else stored
// (COMPAT §9 W3). Every pack written passes Open and VerifyIntegrity.
func TestBuilderCompressionChoice(t *testing.T) {
	random := make([]byte, 1024)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		data   []byte
		method uint16
	}{
		{"compressible text", bytes.Repeat([]byte("hello world, "), 100), zip.Deflate},
		{"ratio exactly 100:1", zerosWithRatio(t, true), zip.Deflate},
		{"ratio just over 100:1", zerosWithRatio(t, false), zip.Store},
		{"deflate gains nothing", sameSizeDeflated(t), zip.Store},
		{"incompressible", random, zip.Store},
		{"empty", nil, zip.Store},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("s")
			if err := b.AddBytes("x.bin", tc.data); err != nil {
				t.Fatal(err)
			}
			p := writeAndOpen(t, b)
			f := p.files["artifacts/x.bin"]
			if f.Method != tc.method {
				t.Fatalf("%d bytes written with method %d (%d compressed), want %d", len(tc.data), f.Method, f.CompressedSize64, tc.method)
			}
			got, err := p.ReadArtifact("artifacts/x.bin")
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		})
	}
}

// A file artifact whose first 256 KiB do not compress is stored while it is
// streamed (archive/zip then writes a data descriptor); shorter or
// compressible files are read into memory and written like AddBytes.
func TestBuilderFileArtifactStreamedOnlyWhenLargeAndIncompressible(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 300<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		method   uint16
		streamed bool
	}{
		{"large incompressible", random, zip.Store, true},
		{"small incompressible", random[:100<<10], zip.Store, false},
		{"large compressible", compressibleText(300 << 10), zip.Deflate, false},
		{"large, too compressible", bytes.Repeat([]byte(" "), 300<<10), zip.Store, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(src, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			b := NewBuilder("s")
			if err := b.AddFile("f.bin", src); err != nil {
				t.Fatal(err)
			}
			p := writeAndOpen(t, b)
			f := p.files["artifacts/f.bin"]
			if f.Method != tc.method || (f.Flags&flagDescriptor != 0) != tc.streamed {
				t.Fatalf("method %d, flags %#x; want method %d, streamed %v", f.Method, f.Flags, tc.method, tc.streamed)
			}
			got, err := p.ReadArtifact("artifacts/f.bin")
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		})
	}
}

// Entries written from memory carry the generation time as MS-DOS date and
// time (two-second steps, years 1980 to 2107); outside that range both are
// zero.
func TestBuilderMSDOSTimestamps(t *testing.T) {
	tests := []struct {
		now     time.Time
		inRange bool
		want    time.Time // the time the MS-DOS fields give
	}{
		{time.Date(2026, 1, 20, 12, 34, 57, 0, time.UTC), true, time.Date(2026, 1, 20, 12, 34, 56, 0, time.UTC)},
		{time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), true, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2107, 12, 31, 23, 59, 59, 0, time.UTC), true, time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)},
		{time.Date(1979, 12, 31, 23, 59, 59, 0, time.UTC), false, time.Time{}},
		{time.Date(2108, 1, 1, 0, 0, 0, 0, time.UTC), false, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.now.Format(time.RFC3339), func(t *testing.T) {
			b := NewBuilder("s")
			b.Now = func() time.Time { return tc.now }
			if err := b.AddBytes("a.txt", []byte("a")); err != nil {
				t.Fatal(err)
			}
			p := writeAndOpen(t, b)
			for _, name := range []string{"manifest.json", "artifacts/a.txt"} {
				f := p.files[name]
				d, tm := f.ModifiedDate, f.ModifiedTime
				if !tc.inRange {
					if d != 0 || tm != 0 {
						t.Fatalf("%s: MS-DOS date %#x time %#x, want zero", name, d, tm)
					}
					continue
				}
				got := time.Date(1980+int(d>>9), time.Month(d>>5&0xf), int(d&0x1f),
					int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2, 0, time.UTC)
				if !got.Equal(tc.want) || time.Month(d>>5&0xf) != tc.want.Month() || int(tm>>5&0x3f) != tc.want.Minute() {
					t.Fatalf("%s: MS-DOS date %#x time %#x is %v, want %v", name, d, tm, got, tc.want)
				}
			}
		})
	}
}

// compressibleText returns n bytes of numbered lines, which deflate shrinks
// well but by far less than 100:1.
func compressibleText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of the log\n", i)
	}
	return b.Bytes()[:n]
}
