package transfer

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// rangeServer serves data with http.ServeContent (Range, If-Match on its
// ETag), counting requests and how many ran at once.
type rangeServer struct {
	mu       sync.Mutex
	data     []byte
	etag     string
	requests int
	ranges   int
	inflight atomic.Int32
	maxSeen  atomic.Int32
	// hook may answer a request itself (true); n counts requests from 1.
	hook func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newRangeServer(t *testing.T, data []byte) (*rangeServer, string) {
	rs := &rangeServer{data: data, etag: `"v1"`}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		cur := rs.inflight.Add(1)
		defer rs.inflight.Add(-1)
		for m := rs.maxSeen.Load(); cur > m && !rs.maxSeen.CompareAndSwap(m, cur); m = rs.maxSeen.Load() {
		}
		rs.mu.Lock()
		rs.requests++
		n := rs.requests
		if r.Header.Get("Range") != "" {
			rs.ranges++
		}
		data, etag := rs.data, rs.etag
		rs.mu.Unlock()
		if rs.hook != nil && rs.hook(w, r, n) {
			return
		}
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "pack.epack", time.Time{}, bytes.NewReader(data))
	})
	return rs, srv.URL + "/pack.epack"
}

func rangedGet(t *testing.T, url string, size int64, parallel int) (DownloadResult, []byte, error) {
	t.Helper()
	dest, err := os.Create(filepath.Join(t.TempDir(), "dl.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	var last atomic.Int64
	res, err := fastClient().Download(context.Background(), DownloadRequest{
		Target: Target{Method: "GET", URL: url}, Policy: loopback, Dest: dest, ExpectedSize: size, Parallel: parallel,
		Progress: func(w, total int64) { last.Store(w) },
	})
	got, _ := os.ReadFile(dest.Name())
	if err == nil && last.Load() != size {
		t.Errorf("progress ended at %d of %d", last.Load(), size)
	}
	return res, got, err
}

func TestRangedDownload(t *testing.T) {
	data := testData(RangedMin + 3*RangeChunk + 12345) // 8 chunks
	rs, url := newRangeServer(t, data)
	res, got, err := rangedGet(t, url, int64(len(data)), 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sum(data) || res.Size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("result %+v; bytes equal %v", res, bytes.Equal(got, data))
	}
	if rs.ranges != 8 || rs.requests != 8 {
		t.Errorf("%d requests, %d with a range; want 8 ranges", rs.requests, rs.ranges)
	}
	if m := rs.maxSeen.Load(); m < 2 || m > 4 {
		t.Errorf("%d ranges at once, want 2..4", m)
	}

	// Below RangedMin, or with Parallel 1: one stream, as before.
	rs2, url2 := newRangeServer(t, data[:RangedMin-1])
	if _, _, err := rangedGet(t, url2, RangedMin-1, 4); err != nil || rs2.ranges != 0 {
		t.Errorf("small download: %v, %d ranges", err, rs2.ranges)
	}
	rs3, url3 := newRangeServer(t, data)
	if _, _, err := rangedGet(t, url3, int64(len(data)), 1); err != nil || rs3.ranges != 0 {
		t.Errorf("sequential download: %v, %d ranges", err, rs3.ranges)
	}
}

// TestRangedDownloadFallsBack: a server that ignores Range, or announces
// another size, gets the single-stream download (which then judges it).
func TestRangedDownloadFallsBack(t *testing.T) {
	data := testData(RangedMin + 1)
	rs, url := newRangeServer(t, data)
	rs.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Write(data) // 200, no ranges
		return true
	}
	res, got, err := rangedGet(t, url, int64(len(data)), 4)
	if err != nil || res.SHA256 != sum(data) || !bytes.Equal(got, data) {
		t.Fatalf("no-range server: %+v, %v", res, err)
	}
	if rs.requests != 2 {
		t.Errorf("%d requests; want the probe and one full GET", rs.requests)
	}
	_, url2 := newRangeServer(t, data)
	_, _, err = rangedGet(t, url2, int64(len(data))+1, 4)
	wantCode(t, err, errcode.SizeMismatch)
}

// TestRangedDownloadResumesAChunk: a range cut short is asked again from
// where it stopped, within its chunk.
func TestRangedDownloadResumesAChunk(t *testing.T) {
	data := testData(RangedMin + 5)
	rs, url := newRangeServer(t, data)
	var cut atomic.Bool
	rs.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.Header.Get("Range"), "bytes=33554432-") && cut.CompareAndSwap(false, true) {
			// Chunk 2: half of it, then the connection ends.
			w.Header().Set("Content-Range", "bytes 33554432-50331647/"+strconv.Itoa(len(data)))
			w.Header().Set("Content-Length", strconv.Itoa(RangeChunk))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[2*RangeChunk : 2*RangeChunk+RangeChunk/2])
			w.(http.Flusher).Flush()
			cutConn(t, w)
			return true
		}
		return false
	}
	res, got, err := rangedGet(t, url, int64(len(data)), 3)
	if err != nil || res.SHA256 != sum(data) || !bytes.Equal(got, data) {
		t.Fatalf("after a cut range: %+v, %v", res, err)
	}
	if !cut.Load() {
		t.Fatal("the cut never happened")
	}
}

// TestRangedDownloadHashesTheFile: the digest is of the bytes in the file,
// so a store that sends a wrong byte in one range is caught by the caller's
// digest check; a pack that changes mid-download (another ETag) fails.
func TestRangedDownloadHashesTheFile(t *testing.T) {
	data := testData(RangedMin)
	rs, url := newRangeServer(t, data)
	bad := bytes.Clone(data)
	bad[3*RangeChunk+7] ^= 1
	rs.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.Header.Get("Range"), "bytes=50331648-") {
			w.Header().Set("ETag", rs.etag)
			http.ServeContent(w, r, "pack.epack", time.Time{}, bytes.NewReader(bad))
			return true
		}
		return false
	}
	res, _, err := rangedGet(t, url, int64(len(data)), 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sum(bad) || res.SHA256 == sum(data) {
		t.Fatalf("digest %s is not of the bytes written", res.SHA256)
	}

	rs2, url2 := newRangeServer(t, data)
	rs2.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 2 {
			rs2.mu.Lock()
			rs2.etag = `"v2"` // the object was replaced after the probe
			rs2.mu.Unlock()
		}
		return false
	}
	_, _, err = rangedGet(t, url2, int64(len(data)), 4)
	wantCode(t, err, errcode.DownloadFailed, "changed")
}
