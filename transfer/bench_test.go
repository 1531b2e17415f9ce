package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchSize = 256 << 20

// benchPack writes a benchSize file of pseudo-random bytes and returns it
// open, with its digest.
func benchPack(b *testing.B) (*os.File, string) {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "bench.epack"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	chunk := testData(1 << 20)
	h := sha256.New()
	for i := 0; i < benchSize/len(chunk); i++ {
		chunk[0] = byte(i)
		f.Write(chunk)
		h.Write(chunk)
	}
	return f, "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// BenchmarkUploadFile uploads a 256 MiB pack to a file:// destination and to
// an http server on loopback that discards the body.
func BenchmarkUploadFile(b *testing.B) {
	f, digest := benchPack(b)
	b.Run("file", func(b *testing.B) {
		root := b.TempDir()
		c := NewClient()
		b.SetBytes(benchSize)
		b.ResetTimer()
		for range b.N {
			err := c.Upload(context.Background(), UploadRequest{
				Target: Target{Method: "PUT", URL: "file://" + root + "/blobs/sha256/x"},
				Policy: Policy{FileRoot: root}, Body: f, Size: benchSize, SHA256: digest,
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-loopback", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
		}))
		defer srv.Close()
		c := NewClient()
		b.SetBytes(benchSize)
		b.ResetTimer()
		for range b.N {
			err := c.Upload(context.Background(), UploadRequest{
				Target: Target{Method: "PUT", URL: srv.URL + "/x"},
				Policy: loopback, Body: f, Size: benchSize, SHA256: digest,
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDownload fetches the 256 MiB pack over loopback http and from a
// file:// source.
func BenchmarkDownload(b *testing.B) {
	f, _ := benchPack(b)
	b.Run("file", func(b *testing.B) {
		dest, _ := os.Create(filepath.Join(b.TempDir(), "out"))
		defer dest.Close()
		dir := filepath.Dir(f.Name())
		c := NewClient()
		b.SetBytes(benchSize)
		b.ResetTimer()
		for range b.N {
			if _, err := c.Download(context.Background(), DownloadRequest{
				Target: Target{URL: "file://" + f.Name()}, Policy: Policy{FileRoot: dir},
				Dest: dest, ExpectedSize: benchSize,
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-loopback", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "", benchModTime, f)
		}))
		defer srv.Close()
		dest, _ := os.Create(filepath.Join(b.TempDir(), "out"))
		defer dest.Close()
		c := NewClient()
		b.SetBytes(benchSize)
		b.ResetTimer()
		for range b.N {
			if _, err := c.Download(context.Background(), DownloadRequest{
				Target: Target{URL: srv.URL}, Policy: loopback, Dest: dest, ExpectedSize: benchSize,
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var benchModTime = time.Unix(1700000000, 0)
