package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
)

// s3Proxy stands between epack (its adapter and its part uploads) and the
// S3 test server. It keeps the Host header, so URLs presigned for the
// proxy's address stay valid, counts the part uploads the server took, and
// can hold the n-th part upload that arrives: the test then kills epack
// there, as a crash or a kill -9 halfway through a push would.
type s3Proxy struct {
	srv *httptest.Server

	mu      sync.Mutex
	holdAt  int // 0: hold nothing
	arrived int // part uploads that arrived since the last reset
	taken   int // part uploads the server answered 200
	ranges  int // range GETs the server answered 206
	held    chan struct{}
	release chan struct{}
}

func newS3Proxy(t *testing.T, endpoint string) *s3Proxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{held: make(chan struct{}), release: make(chan struct{})}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPart := r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
		if isPart {
			p.mu.Lock()
			p.arrived++
			hold := p.holdAt > 0 && p.arrived == p.holdAt
			p.mu.Unlock()
			if hold {
				close(p.held)
				<-p.release
				// The client is gone; hang up without forwarding.
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
		}
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		rp.ServeHTTP(rec, r)
		if isPart && rec.status == 200 {
			p.mu.Lock()
			p.taken++
			p.mu.Unlock()
		}
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && rec.status == http.StatusPartialContent {
			p.mu.Lock()
			p.ranges++
			p.mu.Unlock()
		}
	}))
	t.Cleanup(func() {
		p.mu.Lock()
		if p.holdAt > 0 {
			select {
			case <-p.release:
			default:
				close(p.release)
			}
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	return p
}

// counts returns and resets the part uploads seen.
func (p *s3Proxy) counts() (arrived, taken int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, tk := p.arrived, p.taken
	p.arrived, p.taken = 0, 0
	return a, tk
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// mpProject is a project whose remote "reg" is the S3 adapter reaching the
// test server through a proxy, sending packs from 5 MiB on in parts.
type mpProject struct {
	*proj
	s3     testenv.S3
	bucket string
	proxy  *s3Proxy
}

func newMPProject(t *testing.T, partURLs int) *mpProject {
	t.Helper()
	s := testenv.RequireS3(t)
	proxy := newS3Proxy(t, s.Endpoint)
	bucket := s.NewBucket(t)
	yaml := func(t *testing.T, root string) string {
		return fmt.Sprintf("  reg:\n    adapter: s3\n    target: {workspace: acme, environment: prod}\n    transport:\n      allow_loopback_http: true\n    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    extensions:\n      bucket: %s\n      endpoint: %s\n      path_style: true\n      region: us-east-1\n      multipart_threshold: 5MiB\n      multipart_part_urls: %d\n",
			bucket, proxy.srv.URL, partURLs)
	}
	p := newProj(t, store{name: "s3", yaml: yaml, env: []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}})
	return &mpProject{proj: p, s3: s, bucket: bucket, proxy: proxy}
}

// writeRandomPack writes a pack of about size bytes of incompressible
// artifacts (seeded, so a different seed gives a different pack).
func writeRandomPack(t *testing.T, path string, size int, seed byte) {
	t.Helper()
	r := rand.NewChaCha8([32]byte{seed})
	var files []e2e.File
	for left, i := size, 0; left > 0; i++ {
		n := min(left, 90<<20)
		b := make([]byte, n)
		r.Read(b)
		files = append(files, e2e.File{Name: fmt.Sprintf("blob%02d.bin", i), Data: b})
		left -= n
	}
	e2e.WritePack(t, path, "acme/prod", files...)
}

func (p *mpProject) stateFiles(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(p.root, ".epack", "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	return out
}

// pushAgain runs the interrupted push of big.epack again (5 MiB parts)
// and returns its --json result and its stderr.
func (p *mpProject) pushAgain(t *testing.T) (map[string]any, string) {
	t.Helper()
	out, errOut, code := p.run(t, "push", "reg", "big.epack", "--part-size", "5MiB", "--json")
	if code != 0 {
		t.Fatalf("push: %d\n%s\n%s", code, out, errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("push --json: %v\n%s", err, out)
	}
	return res, errOut
}

func (p *mpProject) pullCompare(t *testing.T, pack string) {
	t.Helper()
	want, _ := os.ReadFile(pack)
	out := "pulled-" + filepath.Base(pack)
	res := p.runJSON(t, "pull", "reg", "-o", out, "--digest", e2e.FileSHA256(t, pack))
	got, _ := os.ReadFile(filepath.Join(p.root, out))
	if res["verified"] != true || !bytes.Equal(got, want) {
		t.Fatalf("pull: %v; bytes equal: %v", res, bytes.Equal(got, want))
	}
	os.Remove(filepath.Join(p.root, out))
}

func jsonInt(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// TestS3MultipartPushPull: a pack above the adapter's threshold goes in
// parts (targets handed out two at a time, so push.parts runs through the
// real adapter), in parallel; the blob is one composite object; the pull
// is byte-identical and no upload state is left behind.
func TestS3MultipartPushPull(t *testing.T) {
	p := newMPProject(t, 2)
	pk := filepath.Join(p.root, "big.epack")
	writeRandomPack(t, pk, 27<<20, 1)
	fi, _ := os.Stat(pk)
	res := p.runJSON(t, "push", "reg", "big.epack", "--part-size", "5MiB", "--parallel", "3", "--frozen")
	if res["pushed"] != true || jsonInt(res["bytes_sent"]) != fi.Size() || jsonInt(res["bytes_resumed"]) != 0 {
		t.Fatalf("push: %v", res)
	}
	arrived, taken := p.proxy.counts()
	if arrived != 6 || taken != 6 {
		t.Errorf("%d part uploads arrived, %d taken; the pack has 6 parts", arrived, taken)
	}
	key := "blobs/sha256/" + strings.TrimPrefix(e2e.FileSHA256(t, pk), "sha256:")
	head, err := p.s3.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if head.ChecksumType != types.ChecksumTypeComposite || !strings.HasSuffix(aws.ToString(head.ChecksumSHA256), "-6") {
		t.Errorf("blob checksum %s (%s), want a composite of 6 parts", aws.ToString(head.ChecksumSHA256), head.ChecksumType)
	}
	if s := p.stateFiles(t); len(s) != 0 {
		t.Errorf("upload state left behind: %v", s)
	}
	p.pullCompare(t, pk)
	// Below the threshold: today's single upload.
	small := filepath.Join(p.root, "small.epack")
	writeRandomPack(t, small, 1<<20, 2)
	if res := p.runJSON(t, "push", "reg", "small.epack"); res["pushed"] != true {
		t.Fatalf("small push: %v", res)
	}
	if arrived, _ := p.proxy.counts(); arrived != 0 {
		t.Errorf("a pack below the threshold went in %d parts", arrived)
	}
	p.pullCompare(t, small)
}

// TestS3RangedPull: a large pack comes down from S3 in parallel ranges
// (16 MiB each), hashed whole before it is renamed into place.
func TestS3RangedPull(t *testing.T) {
	p := newMPProject(t, 100)
	pk := filepath.Join(p.root, "big.epack")
	writeRandomPack(t, pk, 70<<20, 7)
	p.runJSON(t, "push", "reg", "big.epack")
	p.proxy.mu.Lock()
	p.proxy.ranges = 0
	p.proxy.mu.Unlock()
	want, _ := os.ReadFile(pk)
	res := p.runJSON(t, "pull", "reg", "-o", "pulled.epack", "--parallel", "3")
	got, _ := os.ReadFile(filepath.Join(p.root, "pulled.epack"))
	if res["verified"] != true || !bytes.Equal(got, want) {
		t.Fatalf("pull: %v", res)
	}
	p.proxy.mu.Lock()
	ranges := p.proxy.ranges
	p.proxy.mu.Unlock()
	if chunks := (len(want) + 16<<20 - 1) / (16 << 20); ranges != chunks {
		t.Errorf("%d range GETs for %d chunks", ranges, chunks)
	}
	// One stream when asked.
	p.proxy.mu.Lock()
	p.proxy.ranges = 0
	p.proxy.mu.Unlock()
	p.runJSON(t, "pull", "reg", "-o", "pulled2.epack", "--parallel", "1")
	if p.proxy.ranges != 0 {
		t.Errorf("--parallel 1 fetched %d ranges", p.proxy.ranges)
	}
}

// interrupt starts a push of pack and kills it (SIGKILL) when the holdAt-th
// part upload arrives; it returns once epack is gone.
func (p *mpProject) interrupt(t *testing.T, pack string, holdAt int, args ...string) {
	t.Helper()
	p.proxy.mu.Lock()
	p.proxy.holdAt, p.proxy.arrived, p.proxy.taken = holdAt, 0, 0
	p.proxy.held, p.proxy.release = make(chan struct{}), make(chan struct{})
	held, release := p.proxy.held, p.proxy.release
	p.proxy.mu.Unlock()
	cmd := exec.Command(filepath.Join(p.bin, "epack"), append([]string{"push", "reg", pack, "--json"}, args...)...)
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), append([]string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI="}, p.env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-held:
	case err := <-exited:
		t.Fatalf("push ended before part upload %d (%v):\n%s", holdAt, err, out.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	p.proxy.mu.Lock()
	p.proxy.holdAt = 0
	close(release)
	p.proxy.mu.Unlock()
	if s := p.stateFiles(t); len(s) != 1 {
		t.Fatalf("after the kill, upload states %v (want one)", s)
	}
}

// resumeCase is one size of the resume test.
type resumeCase struct {
	size     int
	args     []string
	partSize int64
	holdAt   int
	parallel int
}

func resumeCaseFor(t *testing.T) resumeCase {
	if os.Getenv("EPACK_TEST_BIG_MULTIPART") == "1" {
		// 1 GiB in the default 16 MiB parts, four at a time, killed when
		// part upload 33 of 65 arrives (about half).
		return resumeCase{size: 1 << 30, args: []string{"--parallel", "4"}, partSize: 16 << 20, holdAt: 33, parallel: 4}
	}
	return resumeCase{size: 40 << 20, args: []string{"--part-size", "5MiB", "--parallel", "1"}, partSize: 5 << 20, holdAt: 5, parallel: 1}
}

// TestS3MultipartResumeAfterKill: a push killed (SIGKILL) about halfway
// through its parts, run again, sends only the parts the store does not
// hold (at least 40 % of the pack is resumed) and the release pulls back
// byte for byte. EPACK_TEST_BIG_MULTIPART=1 runs it with a 1 GiB pack.
func TestS3MultipartResumeAfterKill(t *testing.T) {
	c := resumeCaseFor(t)
	p := newMPProject(t, 100)
	pk := filepath.Join(p.root, "big.epack")
	writeRandomPack(t, pk, c.size, 3)
	fi, _ := os.Stat(pk)
	parts := int((fi.Size() + c.partSize - 1) / c.partSize)
	p.interrupt(t, "big.epack", c.holdAt, c.args...)
	_, takenBefore := p.proxy.counts()
	if takenBefore < c.holdAt-c.parallel {
		t.Fatalf("only %d parts were taken before the kill", takenBefore)
	}

	res := p.runJSON(t, append([]string{"push", "reg", "big.epack"}, c.args...)...)
	sent, resumed := jsonInt(res["bytes_sent"]), jsonInt(res["bytes_resumed"])
	if res["pushed"] != true || sent+resumed != fi.Size() || resumed*100 < fi.Size()*40 {
		t.Fatalf("resumed push: %v (sent %d + resumed %d of %d)", res, sent, resumed, fi.Size())
	}
	arrived, _ := p.proxy.counts()
	// Parts in flight at the kill may have reached the store uncounted.
	if missing := parts - takenBefore; arrived > missing || arrived < missing-c.parallel {
		t.Errorf("the resumed push sent %d part uploads; %d parts were missing", arrived, missing)
	}
	t.Logf("killed after %d parts; the second push sent %d bytes in %d uploads and resumed %d bytes (%.0f%%)",
		takenBefore, sent, arrived, resumed, float64(resumed)*100/float64(fi.Size()))
	if s := p.stateFiles(t); len(s) != 0 {
		t.Errorf("upload state left behind: %v", s)
	}
	p.pullCompare(t, pk)
	if res := p.runJSON(t, "releases", "reg"); fmt.Sprint(res["releases"]) == "[]" {
		t.Errorf("no release listed: %v", res)
	}
}

// TestS3MultipartChangedFileStartsOver: a pack that changed since its
// interrupted push is never resumed: the new bytes go up whole.
func TestS3MultipartChangedFileStartsOver(t *testing.T) {
	p := newMPProject(t, 100)
	pk := filepath.Join(p.root, "big.epack")
	writeRandomPack(t, pk, 20<<20, 4)
	p.interrupt(t, "big.epack", 3, "--part-size", "5MiB", "--parallel", "1")
	p.proxy.counts()
	writeRandomPack(t, pk, 20<<20, 5) // same path, other bytes
	fi, _ := os.Stat(pk)
	res, errOut := p.pushAgain(t)
	if jsonInt(res["bytes_resumed"]) != 0 || jsonInt(res["bytes_sent"]) != fi.Size() {
		t.Fatalf("a changed pack was resumed: %v", res)
	}
	if !strings.Contains(errOut, "The pack changed since its interrupted upload") {
		t.Errorf("stderr does not say why the upload starts over:\n%s", errOut)
	}
	p.pullCompare(t, pk)
}

// TestS3MultipartForgottenUpload: when the store no longer has the
// interrupted upload (aborted, expired), the push starts a new one.
func TestS3MultipartForgottenUpload(t *testing.T) {
	p := newMPProject(t, 100)
	pk := filepath.Join(p.root, "big.epack")
	writeRandomPack(t, pk, 20<<20, 6)
	p.interrupt(t, "big.epack", 3, "--part-size", "5MiB", "--parallel", "1")
	p.proxy.counts()
	ctx := context.Background()
	c := p.s3.Client()
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(p.bucket)})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("uploads in progress: %+v, %v", ups, err)
	}
	u := ups.Uploads[0]
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(p.bucket), Key: u.Key, UploadId: u.UploadId}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(pk)
	res, errOut := p.pushAgain(t)
	if jsonInt(res["bytes_resumed"]) != 0 || jsonInt(res["bytes_sent"]) != fi.Size() {
		t.Fatalf("push after the upload was forgotten: %v", res)
	}
	if !strings.Contains(errOut, "no longer exists") {
		t.Errorf("stderr does not say the upload is gone:\n%s", errOut)
	}
	p.pullCompare(t, pk)
}
