package s3store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/s3store"
	"github.com/evidencerelay/epack/transfer"
)

const mpPart = 5 << 20

// mpEnv is a registry with multipart uploads (threshold 5 MiB) over a
// fresh bucket of the S3 test server, and a pack's bytes.
type mpEnv struct {
	env    testenv.S3
	bucket string
	store  *s3store.Store
	reg    *registry.Registry
	data   []byte
	parts  []protocol.PartChecksum
	target protocol.TargetConfig
}

func newMPEnv(t *testing.T, size int) *mpEnv { return newMPEnvMD5(t, size, true) }

// newMPEnvMD5 is newMPEnv with the parts' MD5 asked for, or not.
func newMPEnvMD5(t *testing.T, size int, partMD5 bool) *mpEnv {
	t.Helper()
	env := testenv.RequireS3(t)
	bucket := env.NewBucket(t)
	s := newStoreMode(t, env, bucket, testPrefix, s3store.UploadHeadersNone)
	e := &mpEnv{env: env, bucket: bucket, store: s, target: protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/big"}}
	e.reg = registry.New(s, registry.Options{Name: "s3", MaxPackBytes: s3store.MaxObjectBytes, MaxSingleBytes: 8 << 20,
		Multipart: s3store.MultipartLimits(5<<20, 0, partMD5), PresignExpiry: time.Hour})
	e.data = make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(e.data)
	h := transfer.NewPartHasher(context.Background(), int64(size))
	if partMD5 {
		h.Decide(mpPart)
	} else {
		h.DecideSHA256(mpPart)
	}
	h.Write(e.data)
	var err error
	if e.parts, err = h.Parts(); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *mpEnv) fileDigest() string {
	s := sha256.Sum256(e.data)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (e *mpEnv) prepare(t *testing.T, offer *protocol.MultipartOffer) (*protocol.PushPrepareResponse, error) {
	t.Helper()
	return e.reg.PushPrepare(context.Background(), &protocol.PushPrepareRequest{
		Remote: "s3", Target: e.target,
		Pack:      protocol.PackInfo{Path: "/x/big.epack", Digest: "sha256:" + strings.Repeat("ab", 32), FileDigest: e.fileDigest(), SizeBytes: int64(len(e.data))},
		Release:   protocol.ReleaseInfo{Labels: []string{"v1.0.0"}},
		Multipart: offer,
	})
}

func (e *mpEnv) offer() *protocol.MultipartOffer {
	return &protocol.MultipartOffer{PartSize: mpPart, Parts: e.parts}
}

// send uploads the parts numbered in only (all when nil) with the host's
// uploader, asking push.parts for targets.
func (e *mpEnv) send(t *testing.T, prep *protocol.PushPrepareResponse, only map[int]bool) error {
	t.Helper()
	skip := map[int]bool{}
	for _, p := range e.parts {
		if only != nil && !only[p.PartNumber] {
			skip[p.PartNumber] = true
		}
	}
	for _, u := range prep.Multipart.Uploaded {
		skip[u.PartNumber] = true
	}
	c := transfer.NewClient()
	c.Retry = transfer.RetryPolicy{Attempts: 2, Base: time.Millisecond}
	_, err := c.UploadParts(context.Background(), transfer.PartsRequest{
		Policy: transfer.Policy{AllowLoopbackHTTP: true}, Body: bytes.NewReader(e.data), PartSize: mpPart, Parts: e.parts,
		Skip: skip, Targets: prep.Multipart.Parts, Batch: 2, Parallel: 2,
		Fetch: func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error) {
			resp, err := e.reg.PushParts(ctx, &protocol.PushPartsRequest{Remote: "s3", Target: e.target,
				FinalizeToken: prep.FinalizeToken, UploadID: prep.Multipart.UploadID, PartNumbers: numbers})
			if err != nil {
				return nil, err
			}
			return resp.Parts, nil
		},
	})
	return err
}

func (e *mpEnv) finalize(t *testing.T, prep *protocol.PushPrepareResponse) (*protocol.PushFinalizeResponse, error) {
	t.Helper()
	return e.reg.PushFinalize(context.Background(), &protocol.PushFinalizeRequest{Remote: "s3", Target: e.target,
		Pack: protocol.PackInfo{SizeBytes: int64(len(e.data))}, FinalizeToken: prep.FinalizeToken})
}

func wantProtocolCode(t *testing.T, err error, code, text string) {
	t.Helper()
	pe, ok := err.(*protocol.Error)
	if err == nil || !ok && !strings.Contains(err.Error(), text) {
		t.Fatalf("error %v, want %s mentioning %q", err, code, text)
	}
	if ok && (pe.Code != code || !strings.Contains(pe.Message, text)) {
		t.Fatalf("error %s: %q, want %s mentioning %q", pe.Code, pe.Message, code, text)
	}
}

// TestMultipartRoundTrip: a pack above the threshold goes in parts, straight
// to its content address; finalize completes and checks it; the blob is a
// composite-checksummed object that pulls back byte for byte.
func TestMultipartRoundTrip(t *testing.T) {
	e := newMPEnv(t, 3*mpPart+12345)
	prep, err := e.prepare(t, e.offer())
	if err != nil {
		t.Fatal(err)
	}
	m := prep.Multipart
	if prep.Upload.Method != protocol.MethodMultipart || m == nil || m.PartCount != 4 || m.PartSize != mpPart || m.Resumed || len(m.Parts) != 4 {
		t.Fatalf("prepare answered %+v / %+v", prep.Upload, m)
	}
	for _, p := range m.Parts {
		if p.Method != http.MethodPut || p.Headers["Content-Md5"] != e.parts[p.PartNumber-1].MD5 {
			t.Errorf("part %d target %+v", p.PartNumber, p.TransferTarget)
		}
	}
	raw, _ := json.Marshal(prep)
	if err := protocol.CheckRequired(raw, prep); err != nil {
		t.Fatalf("answer fails the host's checks: %v", err)
	}
	// Only the targets of push.parts are used: the first batch is dropped.
	prep.Multipart.Parts = nil
	if err := e.send(t, prep, nil); err != nil {
		t.Fatal(err)
	}
	list, err := e.reg.PushParts(context.Background(), &protocol.PushPartsRequest{Remote: "s3", Target: e.target,
		FinalizeToken: prep.FinalizeToken, UploadID: m.UploadID, ListUploaded: true})
	if err != nil || len(list.Uploaded) != 4 {
		t.Fatalf("list_uploaded = %+v, %v", list, err)
	}
	fin, err := e.finalize(t, prep)
	if err != nil {
		t.Fatal(err)
	}
	if fin.Release.ReleaseID == "" {
		t.Fatal("no release")
	}
	key := testPrefix + "/blobs/sha256/" + strings.TrimPrefix(e.fileDigest(), "sha256:")
	head, err := e.env.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s3store.CompositeSHA256(e.parts)
	if aws.ToInt64(head.ContentLength) != int64(len(e.data)) || !strings.HasPrefix(want, aws.ToString(head.ChecksumSHA256)) {
		t.Errorf("blob: %d bytes, checksum %s (want %s)", aws.ToInt64(head.ContentLength), aws.ToString(head.ChecksumSHA256), want)
	}
	pull, err := e.reg.PullPrepare(context.Background(), &protocol.PullPrepareRequest{Target: protocol.TargetConfig{Workspace: "acme", Environment: "prod"}, Ref: protocol.PullRef{Digest: e.fileDigest()}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pull.Download.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, e.data) {
		t.Fatal("pulled bytes differ")
	}
	// The same pack again: the blob is there, no upload at all.
	again, err := e.prepare(t, e.offer())
	if err != nil || again.Upload.Method != protocol.MethodSkip {
		t.Fatalf("second push of the same pack: %+v, %v", again, err)
	}
}

// TestMultipartSHA256Only: with multipart_part_md5 off, parts go without
// Content-MD5 and are still refused when their bytes differ; an offer
// without MD5s is refused by a registry that wants them.
func TestMultipartSHA256Only(t *testing.T) {
	e := newMPEnvMD5(t, 2*mpPart+3, false)
	prep, err := e.prepare(t, e.offer())
	if err != nil {
		t.Fatal(err)
	}
	tgt := prep.Multipart.Parts[0]
	if _, ok := tgt.Headers["Content-Md5"]; ok {
		t.Fatalf("part target signed with Content-MD5: %v", tgt.Headers)
	}
	bad := bytes.Clone(e.data[:mpPart])
	bad[9] ^= 1
	if status, _ := rawPut(t, tgt.URL, bad, "", e.parts[0].SHA256); status/100 == 2 {
		t.Fatal("the store took wrong bytes checked by SHA-256 alone")
	}
	if err := e.send(t, prep, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.finalize(t, prep); err != nil {
		t.Fatal(err)
	}
	withMD5 := newMPEnv(t, 2*mpPart+3)
	o := withMD5.offer()
	o.Parts = append([]protocol.PartChecksum(nil), o.Parts...)
	for i := range o.Parts {
		o.Parts[i].MD5 = ""
	}
	if _, err := withMD5.prepare(t, o); err == nil || !strings.Contains(err.Error(), "checks every part's MD5") {
		t.Fatalf("an offer without MD5s: %v", err)
	}
}

// TestMultipartWrongPartChecksum: the store refuses a part whose bytes do
// not match the checksums its target was signed with, and finalize then
// publishes nothing.
func TestMultipartWrongPartChecksum(t *testing.T) {
	e := newMPEnv(t, 2*mpPart+1)
	prep, err := e.prepare(t, e.offer())
	if err != nil {
		t.Fatal(err)
	}
	// The host claims part 1's checksums but sends other bytes.
	bad := bytes.Clone(e.data[:mpPart])
	bad[100] ^= 0xff
	tgt := prep.Multipart.Parts[0]
	status, body := rawPut(t, tgt.URL, bad, e.parts[0].MD5, e.parts[0].SHA256)
	if status/100 == 2 {
		t.Fatalf("the store took part 1 with wrong bytes")
	}
	t.Logf("wrong bytes: the store answered %d: %s", status, body)
	// Bytes with their own checksums, which the target was not signed with.
	m2, s2 := md5.Sum(bad), sha256.Sum256(bad)
	if status, body := rawPut(t, tgt.URL, bad, base64.StdEncoding.EncodeToString(m2[:]), base64.StdEncoding.EncodeToString(s2[:])); status/100 == 2 {
		t.Fatalf("the store took part 1 with checksums its target was not signed with")
	} else {
		t.Logf("other checksums: the store answered %d: %s", status, body)
	}
	// The host's uploader says what happened.
	e.parts[1].MD5 = e.parts[0].MD5
	err = e.send(t, prep, map[int]bool{2: true})
	// A store that answers before reading the body may reset the
	// connection under it, and the answer is then lost with the socket:
	// the host can only say the upload failed on the network.
	if err == nil || !errcode.Has(err, errcode.DigestMismatch) && !errcode.Has(err, errcode.UploadFailed) && !errcode.Has(err, errcode.NetworkError) {
		t.Fatalf("uploader error %v", err)
	}
	_, err = e.finalize(t, prep)
	wantProtocolCode(t, err, protocol.CodeInvalidRequest, "was not uploaded")
}

// rawPut sends one part as a host would, without the host's own checks,
// and returns the store's status (0 when it hung up before answering).
func rawPut(t *testing.T, url string, body []byte, md5b64, shab64 string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if md5b64 != "" {
		req.Header.Set("Content-MD5", md5b64)
	}
	req.Header.Set("X-Amz-Checksum-Sha256", shab64)
	req.Header.Set("Expect", "100-continue")
	c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	resp, err := c.Do(req)
	if err != nil {
		// A store that refuses on the headers may hang up mid-body.
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(b)
}

// TestMultipartResumeAndForgottenUpload: an upload the store still has is
// continued with the parts it holds; one it forgot (aborted) gives a new
// upload; push.parts for another upload id is refused.
func TestMultipartResumeAndForgottenUpload(t *testing.T) {
	e := newMPEnv(t, 3*mpPart)
	prep, err := e.prepare(t, e.offer())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.send(t, prep, map[int]bool{1: true, 2: true}); err != nil {
		t.Fatal(err)
	}
	// push.parts names the upload its token binds, and no other.
	_, err = e.reg.PushParts(context.Background(), &protocol.PushPartsRequest{Remote: "s3", Target: e.target,
		FinalizeToken: prep.FinalizeToken, UploadID: "someone-elses-upload", PartNumbers: []int{3}})
	wantProtocolCode(t, err, protocol.CodeInvalidRequest, "does not belong")
	// Finalizing now refuses: part 3 is missing.
	if _, err := e.finalize(t, prep); err == nil || !strings.Contains(err.Error(), "part 3 of 3 was not uploaded") {
		t.Fatalf("finalize with a missing part: %v", err)
	}

	// The same push again, naming the interrupted upload.
	offer := e.offer()
	offer.Resume = &protocol.MultipartResume{UploadID: prep.Multipart.UploadID, FinalizeToken: prep.FinalizeToken}
	again, err := e.prepare(t, offer)
	if err != nil {
		t.Fatal(err)
	}
	m := again.Multipart
	if !m.Resumed || m.UploadID != prep.Multipart.UploadID || len(m.Uploaded) != 2 || len(m.Parts) != 1 || m.Parts[0].PartNumber != 3 {
		t.Fatalf("resume answered %+v", m)
	}
	// The old token is spent.
	if _, err := e.finalize(t, prep); err == nil {
		t.Fatal("the interrupted push's token still finalizes")
	}
	// Other parts than offered before: not resumed.
	changed := e.offer()
	changed.Parts = append([]protocol.PartChecksum(nil), e.parts...)
	changed.Parts[0].SHA256 = e.parts[1].SHA256
	changed.Resume = &protocol.MultipartResume{UploadID: m.UploadID, FinalizeToken: again.FinalizeToken}
	other, err := e.prepare(t, changed)
	if err != nil {
		t.Fatal(err)
	}
	if other.Multipart.Resumed || other.Multipart.UploadID == m.UploadID {
		t.Fatalf("an offer with other parts resumed: %+v", other.Multipart)
	}

	if err := e.send(t, again, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.finalize(t, again); err != nil {
		t.Fatal(err)
	}

	// An upload the store forgot: the next push starts a new one.
	e2 := newMPEnv(t, 2*mpPart)
	p1, err := e2.prepare(t, e2.offer())
	if err != nil {
		t.Fatal(err)
	}
	key := testPrefix + "/blobs/sha256/" + strings.TrimPrefix(e2.fileDigest(), "sha256:")
	if _, err := e2.env.Client().AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: aws.String(e2.bucket), Key: aws.String(key), UploadId: aws.String(p1.Multipart.UploadID)}); err != nil {
		t.Fatal(err)
	}
	_, err = e2.reg.PushParts(context.Background(), &protocol.PushPartsRequest{Remote: "s3", Target: e2.target,
		FinalizeToken: p1.FinalizeToken, UploadID: p1.Multipart.UploadID, ListUploaded: true})
	wantProtocolCode(t, err, protocol.CodeNotFound, "no longer exists")
	_, err = e2.finalize(t, p1)
	wantProtocolCode(t, err, protocol.CodeNotFound, "no longer exists")
	o := e2.offer()
	o.Resume = &protocol.MultipartResume{UploadID: p1.Multipart.UploadID, FinalizeToken: p1.FinalizeToken}
	p2, err := e2.prepare(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Multipart.Resumed || p2.Multipart.UploadID == p1.Multipart.UploadID {
		t.Fatalf("a forgotten upload was resumed: %+v", p2.Multipart)
	}
	if err := e2.send(t, p2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.finalize(t, p2); err != nil {
		t.Fatal(err)
	}
}

// TestMultipartChoice: below the threshold an offer gets a single upload;
// above the single-upload limit a host that offers nothing is refused.
func TestMultipartChoice(t *testing.T) {
	e := newMPEnv(t, 4<<20)
	h := transfer.NewPartHasher(context.Background(), int64(len(e.data)))
	h.Decide(mpPart)
	h.Write(e.data)
	parts, _ := h.Parts()
	prep, err := e.prepare(t, &protocol.MultipartOffer{PartSize: mpPart, Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Upload.Method != http.MethodPut || prep.Multipart != nil {
		t.Fatalf("below the threshold: %+v", prep.Upload)
	}
	big := newMPEnv(t, 9<<20)
	if _, err := big.prepare(t, nil); err == nil || !strings.Contains(err.Error(), "at most 8388608") {
		t.Fatalf("a pack over the single-upload limit without an offer: %v", err)
	}
	// An offer that does not describe the pack is refused.
	bad := big.offer()
	bad.Parts = bad.Parts[:1]
	if _, err := big.prepare(t, bad); err == nil || !strings.Contains(err.Error(), "invalid multipart offer") {
		t.Fatalf("a short offer: %v", err)
	}
	h = transfer.NewPartHasher(context.Background(), int64(len(big.data)))
	h.Decide(1 << 20)
	h.Write(big.data)
	smallParts, _ := h.Parts()
	if _, err := big.prepare(t, &protocol.MultipartOffer{PartSize: 1 << 20, Parts: smallParts}); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Fatalf("parts below S3's minimum: %v", err)
	}
}
