package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// partsOf computes the checksums of data in parts of ps bytes, as the
// verification pass does.
func partsOf(t *testing.T, data []byte, ps int64) []protocol.PartChecksum {
	t.Helper()
	h := NewPartHasher(context.Background(), int64(len(data)))
	h.Decide(ps)
	for off := 0; off < len(data); off += 1 << 20 {
		h.Write(data[off:min(off+1<<20, len(data))])
	}
	parts, err := h.Parts()
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func TestPartHasher(t *testing.T) {
	data := testData(5<<20 + 12345)
	const ps = 2 << 20
	h := NewPartHasher(context.Background(), int64(len(data)))
	// Bytes arrive before the part size is known: Write waits for Decide.
	written := make(chan error, 1)
	go func() {
		var err error
		for off := 0; off < len(data) && err == nil; off += 700 << 10 {
			_, err = h.Write(data[off:min(off+700<<10, len(data))])
		}
		written <- err
	}()
	if h.PartSize() != 0 {
		t.Fatal("part size known before Decide")
	}
	h.Decide(ps)
	h.Decide(1) // only the first call counts
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	parts, err := h.Parts()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3", len(parts))
	}
	for i, p := range parts {
		off := i * ps
		chunk := data[off:min(off+ps, len(data))]
		m, s := md5.Sum(chunk), sha256.Sum256(chunk)
		if p.PartNumber != i+1 || p.SizeBytes != int64(len(chunk)) ||
			p.MD5 != base64.StdEncoding.EncodeToString(m[:]) || p.SHA256 != base64.StdEncoding.EncodeToString(s[:]) {
			t.Errorf("part %d = %+v", i+1, p)
		}
	}
	if h.WantWholeMD5() {
		t.Error("the whole file's MD5 is wanted although the file goes in parts")
	}

	// No parts wanted: Write discards, the whole MD5 is wanted.
	h2 := NewPartHasher(context.Background(), 10)
	h2.Decide(0)
	if n, err := h2.Write([]byte("0123456789")); n != 10 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if !h2.WantWholeMD5() {
		t.Error("whole MD5 not wanted for a single upload")
	}
	if _, err := h2.Parts(); err == nil {
		t.Error("Parts without a part size succeeded")
	}
	// An adapter that uses no MD5 at all: no parts and no whole MD5.
	noMD5 := NewPartHasher(context.Background(), 10)
	noMD5.DecideNoMD5()
	if n, err := noMD5.Write([]byte("0123456789")); n != 10 || err != nil || noMD5.WantWholeMD5() || noMD5.PartSize() != 0 {
		t.Errorf("DecideNoMD5: Write = %d, %v; whole MD5 wanted %v; part size %d", n, err, noMD5.WantWholeMD5(), noMD5.PartSize())
	}

	// A pass that ends before the decision does not block forever.
	ctx, cancel := context.WithCancel(context.Background())
	h3 := NewPartHasher(ctx, 10)
	cancel()
	if _, err := h3.Write([]byte("x")); err == nil {
		t.Error("Write after the end of ctx succeeded")
	}
	if !h3.WantWholeMD5() {
		t.Error("an undecided, ended hasher must not skip the MD5")
	}

	// A short stream is no set of parts.
	h4 := NewPartHasher(context.Background(), 10)
	h4.Decide(4)
	h4.Write([]byte("0123"))
	if _, err := h4.Parts(); !errcode.Has(err, errcode.SizeMismatch) {
		t.Errorf("short stream: %v", err)
	}
}

func TestChoosePartSize(t *testing.T) {
	s3 := protocol.MultipartLimits{MinPartBytes: 5 << 20, MaxPartBytes: 5 << 30, MaxParts: 10000}
	for _, c := range []struct {
		size, want, got int64
	}{
		{1 << 30, 0, DefaultPartSize},
		{1 << 30, 8 << 20, 8 << 20},
		{1 << 40, 0, 105 << 20},       // 1 TiB / 10000 parts, in whole MiB
		{5 << 40, 0, 525 << 20},       // S3's largest object
		{3 << 20, 0, DefaultPartSize}, // one part, smaller than the minimum
	} {
		got, err := ChoosePartSize(c.size, s3, c.want)
		if err != nil || got != c.got {
			t.Errorf("ChoosePartSize(%d, want %d) = %d, %v; want %d", c.size, c.want, got, err, c.got)
		}
		if err == nil && protocol.PartCount(c.size, got) > 10000 {
			t.Errorf("ChoosePartSize(%d) = %d gives too many parts", c.size, got)
		}
	}
	if _, err := ChoosePartSize(1<<30, s3, 1<<20); !errcode.Has(err, errcode.InvalidInput) {
		t.Errorf("part below the minimum: %v", err)
	}
	if _, err := ChoosePartSize(1<<30, s3, 6<<30); !errcode.Has(err, errcode.InvalidInput) {
		t.Errorf("part above the maximum: %v", err)
	}
	if got, _ := ChoosePartSize(100<<20, protocol.MultipartLimits{MinPartBytes: 32 << 20}, 0); got != 32<<20 {
		t.Errorf("adapter minimum not applied: %d", got)
	}
}

// partServer is a store for parts: it checks every part's checksum
// headers against its body, like S3, and records what it saw.
type partServer struct {
	t        *testing.T
	mu       sync.Mutex
	got      map[int][]byte
	headers  map[int]http.Header
	inflight atomic.Int32
	maxSeen  atomic.Int32
	wantMD5  bool
	// hook, when set, may answer a request itself (true).
	hook func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newPartServer(t *testing.T) (*partServer, string) {
	ps := &partServer{t: t, got: map[int][]byte{}, headers: map[int]http.Header{}, wantMD5: true}
	srv := newServer(t, ps.serve)
	return ps, srv.URL
}

func (ps *partServer) serve(w http.ResponseWriter, r *http.Request) {
	cur := ps.inflight.Add(1)
	defer ps.inflight.Add(-1)
	for {
		m := ps.maxSeen.Load()
		if cur <= m || ps.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || r.Method != http.MethodPut {
		http.Error(w, "bad request", 400)
		return
	}
	if ps.hook != nil && ps.hook(w, r, n) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	m, s := md5.Sum(body), sha256.Sum256(body)
	if md := r.Header.Get("Content-MD5"); (md != "" || ps.wantMD5) && md != base64.StdEncoding.EncodeToString(m[:]) ||
		r.Header.Get("X-Amz-Checksum-Sha256") != base64.StdEncoding.EncodeToString(s[:]) {
		http.Error(w, "<Error><Code>BadDigest</Code><Message>The Content-MD5 or checksum value that you specified did not match what the server received.</Message></Error>", 400)
		return
	}
	ps.mu.Lock()
	ps.got[n] = body
	ps.headers[n] = r.Header.Clone()
	ps.mu.Unlock()
	w.Header().Set("ETag", fmt.Sprintf(`"%x"`, m))
}

func targetsFor(base string, numbers []int) []protocol.PartTarget {
	var out []protocol.PartTarget
	for _, n := range numbers {
		out = append(out, protocol.PartTarget{PartNumber: n, TransferTarget: protocol.TransferTarget{
			Method: http.MethodPut, URL: fmt.Sprintf("%s/bucket/key?uploadId=u1&partNumber=%d", base, n),
			Headers: map[string]string{"Authorization": "secret-adapter-header"},
		}})
	}
	return out
}

func TestUploadPartsSendsEveryPartWithItsChecksums(t *testing.T) {
	data := testData(9<<20 + 7)
	const ps = 1 << 20
	parts := partsOf(t, data, ps)
	srv, base := newPartServer(t)
	var fetched [][]int
	var mu sync.Mutex
	var done []int
	var progressLast, progressTotal atomic.Int64
	res, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: ps, Parts: parts,
		Skip:    map[int]bool{2: true, 7: true},
		Targets: targetsFor(base, []int{1, 3}),
		Fetch: func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error) {
			mu.Lock()
			fetched = append(fetched, numbers)
			mu.Unlock()
			return targetsFor(base, numbers), nil
		},
		Batch: 3, Parallel: 3,
		OnPart: func(p protocol.PartChecksum) {
			mu.Lock()
			done = append(done, p.PartNumber)
			mu.Unlock()
		},
		Progress: func(w, total int64) { progressLast.Store(w); progressTotal.Store(total) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.got) != len(parts)-2 {
		t.Fatalf("server holds %d parts, want %d", len(srv.got), len(parts)-2)
	}
	for _, p := range parts {
		b, ok := srv.got[p.PartNumber]
		if p.PartNumber == 2 || p.PartNumber == 7 {
			if ok {
				t.Errorf("skipped part %d was sent", p.PartNumber)
			}
			continue
		}
		off := p.Offset(ps)
		if !bytes.Equal(b, data[off:off+p.SizeBytes]) {
			t.Errorf("part %d: wrong bytes", p.PartNumber)
		}
		// Plain http: the adapter's headers stay home, ours go.
		if h := srv.headers[p.PartNumber]; h.Get("Authorization") != "" {
			t.Errorf("part %d: adapter header sent over plain http", p.PartNumber)
		}
	}
	if len(done) != len(parts)-2 {
		t.Errorf("OnPart called %d times", len(done))
	}
	for _, f := range fetched {
		if len(f) > 3 {
			t.Errorf("fetched %d targets at once (batch 3)", len(f))
		}
	}
	if res.BytesSent+res.BytesSkipped != int64(len(data)) || res.BytesSkipped != 2*ps {
		t.Errorf("result %+v", res)
	}
	if progressLast.Load() != int64(len(data)) || progressTotal.Load() != int64(len(data)) {
		t.Errorf("progress ended at %d/%d", progressLast.Load(), progressTotal.Load())
	}
	if m := srv.maxSeen.Load(); m > 3 {
		t.Errorf("%d parts in flight at once, parallel 3", m)
	}
}

// TestUploadPartsThrottleLowersParallelism: 503 answers make the uploader
// send fewer parts at once; the parts are retried and all arrive.
// TestUploadPartsSHA256Only: parts hashed without their MD5 go without
// Content-MD5, checked by x-amz-checksum-sha256 alone.
func TestUploadPartsSHA256Only(t *testing.T) {
	data := testData(3<<20 + 1)
	h := NewPartHasher(context.Background(), int64(len(data)))
	h.DecideSHA256(1 << 20)
	h.Write(data)
	parts, err := h.Parts()
	if err != nil {
		t.Fatal(err)
	}
	if parts[0].MD5 != "" || parts[0].SHA256 == "" {
		t.Fatalf("parts %+v", parts[0])
	}
	if h.WantWholeMD5() {
		t.Error("the whole file's MD5 is wanted for a multipart upload")
	}
	srv, base := newPartServer(t)
	srv.wantMD5 = false
	if _, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: 1 << 20, Parts: parts,
		Targets: targetsFor(base, []int{1, 2, 3, 4}),
	}); err != nil {
		t.Fatal(err)
	}
	for n, hd := range srv.headers {
		if _, ok := hd["Content-Md5"]; ok {
			t.Errorf("part %d went with Content-MD5", n)
		}
	}
	if len(srv.got) != 4 {
		t.Errorf("%d parts arrived", len(srv.got))
	}
}

func TestUploadPartsThrottleLowersParallelism(t *testing.T) {
	data := testData(12 << 20)
	const ps = 1 << 20
	parts := partsOf(t, data, ps)
	srv, base := newPartServer(t)
	var arrived, refused atomic.Int32
	burst := make(chan struct{})
	var burstOnce sync.Once
	var afterBurstMax atomic.Int32
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if refused.Load() < 4 {
			// The first four requests are held until all four are in
			// flight together, then all refused.
			if arrived.Add(1) <= 4 {
				if arrived.Load() == 4 {
					burstOnce.Do(func() { close(burst) })
				}
				<-burst
				refused.Add(1)
				w.Header().Set("Retry-After", "0")
				http.Error(w, "SlowDown", http.StatusServiceUnavailable)
				return true
			}
		}
		if in := srv.inflight.Load(); in > afterBurstMax.Load() {
			afterBurstMax.Store(in)
		}
		return false
	}
	res, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: ps, Parts: parts,
		Targets: targetsFor(base, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), Parallel: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.got) != 12 {
		t.Fatalf("%d parts arrived", len(srv.got))
	}
	if res.Throttled != 4 || res.MinParallel != 1 {
		t.Errorf("throttled %d, lowest parallelism %d; want 4 and 1", res.Throttled, res.MinParallel)
	}
	if m := afterBurstMax.Load(); m > 2 {
		t.Errorf("%d parts in flight at once after the store throttled", m)
	}
}

func TestUploadPartsExpiredTargetIsFetchedAgain(t *testing.T) {
	data := testData(3 << 20)
	const ps = 1 << 20
	parts := partsOf(t, data, ps)
	srv, base := newPartServer(t)
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Query().Get("fresh") == "" {
			http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
			return true
		}
		return false
	}
	var fetches atomic.Int32
	_, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: ps, Parts: parts,
		Targets: targetsFor(base, []int{1, 2, 3}), Parallel: 2,
		Fetch: func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error) {
			fetches.Add(1)
			ts := targetsFor(base, numbers)
			for i := range ts {
				ts[i].URL += "&fresh=1"
			}
			return ts, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.got) != 3 || fetches.Load() == 0 {
		t.Errorf("%d parts arrived after %d fetches", len(srv.got), fetches.Load())
	}
	// An expired target that a fetch cannot replace stays an error.
	_, err = fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: ps, Parts: parts,
		Targets: targetsFor(base, []int{1, 2, 3}), Parallel: 1,
		Fetch: func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error) {
			return targetsFor(base, numbers), nil
		},
	})
	wantCode(t, err, errcode.URLExpired)
}

// TestUploadPartsWrongBytes: a part whose bytes are not the ones its
// checksums describe is refused by the store (BadDigest) and never retried;
// with RehashParts the host catches a changed file itself.
func TestUploadPartsWrongBytes(t *testing.T) {
	data := testData(2 << 20)
	const ps = 1 << 20
	parts := partsOf(t, data, ps)
	parts[1].MD5 = parts[0].MD5 // as if the host had computed another part's MD5
	srv, base := newPartServer(t)
	var attempts atomic.Int32
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool { attempts.Add(1); return false }
	_, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: ps, Parts: parts,
		Targets: targetsFor(base, []int{1, 2}), Parallel: 1,
	})
	wantCode(t, err, errcode.DigestMismatch, "part 2")
	if attempts.Load() != 2 {
		t.Errorf("%d requests; a refused part must not be retried", attempts.Load())
	}

	// The file changed after verification: the bytes read hash differently
	// from the verified part (the store took them, but the host refuses).
	changed := bytes.Clone(data)
	changed[ps+5] ^= 1
	good := partsOf(t, data, ps)
	srv2, base2 := newPartServer(t)
	srv2.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		io.Copy(io.Discard, r.Body) // a store that checks nothing
		return true
	}
	_ = srv2
	_, err = fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(changed), PartSize: ps, Parts: good,
		Targets: targetsFor(base2, []int{1, 2}), Parallel: 1, RehashParts: true,
	})
	wantCode(t, err, errcode.DigestMismatch, "verified pack")
	// Without RehashParts the store is the judge: one that checks refuses.
	_, err = fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(changed), PartSize: ps, Parts: good,
		Targets: targetsFor(base, []int{1, 2}), Parallel: 1,
	})
	wantCode(t, err, errcode.DigestMismatch, "the store refused part 2")
}

func TestUploadPartsURLPolicy(t *testing.T) {
	data := testData(1 << 20)
	parts := partsOf(t, data, 1<<20)
	_, base := newPartServer(t)
	for name, c := range map[string]struct {
		policy Policy
		url    string
	}{
		"plain http without the opt-in": {Policy{}, base + "/b/k?partNumber=1"},
		"file URL":                      {Policy{FileRoot: t.TempDir(), AllowLoopbackHTTP: true}, "file:///etc/passwd"},
		"remote plain http":             {loopback, "http://example.com/b/k?partNumber=1"},
	} {
		_, err := fastClient().UploadParts(context.Background(), PartsRequest{
			Policy: c.policy, Body: bytes.NewReader(data), PartSize: 1 << 20, Parts: parts,
			Targets: []protocol.PartTarget{{PartNumber: 1, TransferTarget: protocol.TransferTarget{Method: "PUT", URL: c.url}}},
		})
		if !errcode.Has(err, errcode.URLNotAllowed) && !errcode.Has(err, errcode.PathTraversal) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := fastClient().UploadParts(context.Background(), PartsRequest{
		Policy: loopback, Body: bytes.NewReader(data), PartSize: 1 << 20, Parts: parts,
		Targets: []protocol.PartTarget{{PartNumber: 1, TransferTarget: protocol.TransferTarget{Method: "POST", URL: base + "/b/k?partNumber=1"}}},
	})
	wantCode(t, err, errcode.UploadFailed, "PUT")
}

func TestUploadStates(t *testing.T) {
	root := t.TempDir()
	states := UploadStates{ProjectRoot: root}
	name := StateName("s3", "/abs/pack.epack")
	if st, err := states.Load(name); st != nil || err != nil {
		t.Fatalf("Load of nothing = %v, %v", st, err)
	}
	if err := states.Remove(name); err != nil {
		t.Fatalf("Remove of nothing: %v", err)
	}
	st := &UploadState{Remote: "s3", PackPath: "/abs/pack.epack", FileDigest: "sha256:" + fmt.Sprintf("%064x", 1),
		SizeBytes: 10, PartSize: 4, UploadID: "u1", FinalizeToken: "tok", CreatedAt: time.Now().UTC()}
	w := NewStateWriter(states, name, st)
	for i := 1; i <= 3; i++ {
		w.Update(func(s *UploadState) { s.Finished = append(s.Finished, protocol.PartChecksum{PartNumber: i}) })
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := states.Load(name)
	if err != nil || got == nil || len(got.Finished) != 3 || got.UploadID != "u1" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if !got.Matches("s3", protocol.TargetConfig{}, st.FileDigest, 10, 4) {
		t.Error("state does not match its own upload")
	}
	if got.Matches("s3", protocol.TargetConfig{}, "sha256:"+fmt.Sprintf("%064x", 2), 10, 4) {
		t.Error("state matches a changed file")
	}
	fi, err := os.Stat(filepath.Join(root, UploadStateDir, name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi, err)
	}
	if err := states.Remove(name); err != nil {
		t.Fatal(err)
	}
	if st, _ := states.Load(name); st != nil {
		t.Error("state still there after Remove")
	}
	// A linked .epack/uploads is never written through.
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, ".epack"), 0o755)
	os.Symlink(t.TempDir(), filepath.Join(root2, ".epack", "uploads"))
	if err := (UploadStates{ProjectRoot: root2}).Save(name, st); !errcode.Has(err, errcode.SymlinkNotAllowed) {
		t.Errorf("Save through a link: %v", err)
	}
	// A corrupt state is an error, not a resume.
	os.MkdirAll(filepath.Join(root, UploadStateDir), 0o755)
	os.WriteFile(filepath.Join(root, UploadStateDir, name), []byte("{not json"), 0o600)
	if _, err := states.Load(name); err == nil {
		t.Error("corrupt state loaded")
	}
}
