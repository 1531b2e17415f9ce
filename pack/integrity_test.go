package pack

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

func TestIntegrity(t *testing.T) {
	m := testManifest(sample...)
	good := mustJSON(t, m)
	tampered := []art{{"artifacts/a.json", []byte(`{"a":2}`)}, sample[1]}
	longer := []art{{"artifacts/a.json", []byte(`{"a":10}`)}, sample[1]}
	wrongPD := testManifest(sample...)
	wrongPD.PackDigest = "sha256:" + strings.Repeat("ab", 32)
	wrongDigestFormat := testManifest(sample...)
	wrongDigestFormat.PackDigest = "sha256:" + strings.Repeat("AB", 32)
	tests := []struct {
		name string
		zip  []byte
		code errcode.Code
	}{
		{"same length tamper", zipPack(t, good, tampered), errcode.DigestMismatch},
		{"different length", zipPack(t, good, longer), errcode.SizeMismatch},
		{"wrong pack_digest", zipPack(t, mustJSON(t, wrongPD), sample), errcode.DigestMismatch},
		{"crc mismatch", ziptest.Build(ziptest.File("manifest.json", good), ziptest.Dir("artifacts/"),
			ziptest.Entry{Name: "artifacts/a.json", Data: []byte(`{"a":1}`), Raw: []byte(`{"a":2}`)},
			ziptest.File("artifacts/sub/b.csv", sample[1].data)), errcode.DigestMismatch},
		{"lying header size", ziptest.Build(ziptest.File("manifest.json", good), ziptest.Dir("artifacts/"),
			ziptest.Entry{Name: "artifacts/a.json", Data: []byte(`{"a":1}`), Raw: []byte(`{"a":1}xx`)},
			ziptest.File("artifacts/sub/b.csv", sample[1].data)), errcode.NotAZip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := openBytes(tt.zip)
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, p.VerifyIntegrity(context.Background()), tt.code)
		})
	}
	if _, err := openBytes(zipPack(t, mustJSON(t, wrongDigestFormat), sample)); errcode.Of(err) != errcode.InvalidManifest {
		t.Fatal(err)
	}
}

func TestCheckedReadsAndBypass(t *testing.T) {
	tampered := []art{{"artifacts/a.json", []byte(`{"a":2}`)}, sample[1]}
	p, err := openBytes(zipPack(t, mustJSON(t, testManifest(sample...)), tampered))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.ReadArtifact("artifacts/a.json")
	wantCode(t, err, errcode.DigestMismatch)
	rc, err := p.OpenArtifact("artifacts/a.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	wantCode(t, err, errcode.DigestMismatch)
	rc, err = p.OpenArtifact("artifacts/sub/b.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(b, sample[1].data) {
		t.Fatal(err, b)
	}
}

func TestConcurrentReads(t *testing.T) {
	p, err := openBytes(zipPack(t, mustJSON(t, testManifest(sample...)), sample))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := p.ReadArtifact(sample[j%2].path); err != nil {
					t.Error(err)
				}
			}
			if err := p.VerifyIntegrity(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestFirstErrorInManifestOrder(t *testing.T) {
	var arts, bad []art
	for i := 0; i < 20; i++ {
		a := art{"artifacts/f" + itoa(100+i), []byte("data-" + itoa(i))}
		arts = append(arts, a)
		if i == 7 || i == 15 {
			a.data = []byte("DATA-" + itoa(i))
		}
		bad = append(bad, a)
	}
	p, err := openBytes(zipPack(t, mustJSON(t, testManifest(arts...)), bad))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		err := p.VerifyIntegrity(context.Background())
		if !strings.Contains(err.Error(), "artifacts/f107") {
			t.Fatal(err)
		}
	}
}

func TestSumFile(t *testing.T) {
	s, err := SumFile(strings.NewReader("hello world"))
	if err != nil {
		t.Fatal(err)
	}
	if s.SHA256 != "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" || s.MD5Base64 != "XrY7u+Ae7tCTyyK7j1rNww==" || s.Size != 11 {
		t.Fatal(s)
	}
	s, _ = SumFile(strings.NewReader(""))
	if s.SHA256 != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || s.Size != 0 {
		t.Fatal(s)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 700000) // spans many chunks
	s, _ = SumFile(bytes.NewReader(big))
	if s.SHA256 != DigestBytes(big) || s.Size != int64(len(big)) {
		t.Fatal("big")
	}
}

func TestVerifyFile(t *testing.T) {
	b := zipPack(t, mustJSON(t, testManifest(sample...)), sample)
	f, err := os.Open(writeTemp(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := VerifyFile(context.Background(), f, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.File.SHA256 != DigestBytes(b) || v.File.Size != int64(len(b)) || v.Manifest.Stream != "test/stream" {
		t.Fatal(v)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Fatal("offset moved")
	}
	tampered := zipPack(t, mustJSON(t, testManifest(sample...)), []art{{"artifacts/a.json", []byte(`{"a":2}`)}, sample[1]})
	f2, _ := os.Open(writeTemp(t, tampered))
	defer f2.Close()
	_, err = VerifyFile(context.Background(), f2, VerifyOptions{})
	wantCode(t, err, errcode.DigestMismatch)
}

func TestOpenPath(t *testing.T) {
	_, err := Open(t.TempDir() + "/missing.epack")
	wantCode(t, err, errcode.InvalidInput)
	_, err = Open(t.TempDir())
	wantCode(t, err, errcode.InvalidInput)
	p, err := Open(writeTemp(t, zipPack(t, mustJSON(t, testManifest(sample...)), sample)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Close() != nil || p.Close() != nil {
		t.Fatal("close twice")
	}
}

// TestReadBudget: the artifacts may total the pack file's own size plus
// the budget (reading what the file holds is no decompression gain), and
// not one byte more.
func TestReadBudget(t *testing.T) {
	old := readBudget
	defer func() { readBudget = old }()
	arts := []art{{"artifacts/a", []byte("12345")}, {"artifacts/b", []byte("678901")}}
	p, err := openBytes(zipPack(t, mustJSON(t, testManifest(arts...)), arts))
	if err != nil {
		t.Fatal(err)
	}
	readBudget = 10 - p.Size()
	wantCode(t, p.VerifyIntegrity(context.Background()), errcode.ZipBomb)
	readBudget = 11 - p.Size()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
}
