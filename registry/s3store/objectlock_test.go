package s3store_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/registry/s3store"
)

func lockStore(t testing.TB, l *testenv.LockServer, bucket string, lock *s3store.ObjectLock) *s3store.Store {
	t.Helper()
	s, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: testPrefix, Endpoint: l.Endpoint, PathStyle: true, ObjectLock: lock},
		s3store.Options{Credentials: credentials.NewStaticCredentialsProvider(l.User.AccessKey, l.User.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lockEnv is the suite's Env for store s in bucket, acting as the lock
// server's user (uploads go to staging over plain http).
func lockEnv(t *testing.T, l *testenv.LockServer, bucket string, s *s3store.Store) *registrytest.Env {
	client := l.User.Client()
	return &registrytest.Env{
		A:     registry.New(s, registry.Options{Name: "s3"}),
		Store: s,
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
			u, _ := url.Parse(tgt.URL)
			key := strings.TrimPrefix(u.Path, "/"+bucket+"/")
			if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		},
		Prefix: testPrefix + "/",
	}
}

// retention returns until when key (below testPrefix) is retained, and its legal hold.
func retention(t testing.TB, c *s3.Client, bucket, key string) (time.Time, bool) {
	t.Helper()
	return retentionOf(t, c, bucket, key, nil)
}

// retentionOf is retention of version v of key (nil: the newest).
func retentionOf(t testing.TB, c *s3.Client, bucket, key string, v *string) (time.Time, bool) {
	t.Helper()
	ctx := context.Background()
	var until time.Time
	if r, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(testPrefix + "/" + key), VersionId: v}); err == nil && r.Retention != nil {
		until = aws.ToTime(r.Retention.RetainUntilDate)
	}
	held := false
	if h, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String(testPrefix + "/" + key), VersionId: v}); err == nil && h.LegalHold != nil {
		held = h.LegalHold.Status == types.ObjectLockLegalHoldStatusOn
	}
	return until, held
}

// getVersion reads version v of key (nil: the key's newest).
func getVersion(t testing.TB, c *s3.Client, bucket, key string, v *string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: v})
	if err != nil {
		t.Fatalf("reading %s version %s: %v", key, aws.ToString(v), err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestObjectLock: with extensions.object_lock, release records and pack
// blobs are retained (as a non-root account, which versitygw holds to the
// lock: their versions cannot be deleted; a plain PUT or DELETE with the
// same credentials adds a version or a delete marker, which log verify
// names, and the locked bytes stay readable); push --retain lengthens, never
// shortens; legal holds set and clear; gc keeps what is retained; a bucket
// without Object Lock is refused before anything is written; the whole
// registry suite passes on a locked bucket.
func TestObjectLock(t *testing.T) {
	l := testenv.RequireLockServer(t)
	c := l.User.Client()
	ctx := context.Background()
	lock := &s3store.ObjectLock{Mode: "COMPLIANCE", Retain: time.Hour, RetainText: "1h"}
	bucket := l.NewLockBucket(t, true)
	s := lockStore(t, l, bucket, lock)
	e := lockEnv(t, l, bucket, s)
	tgt := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/locked"}
	dir := t.TempDir()
	p := registrytest.MakePack(t, dir, "p.epack", "locked")
	_, fin := registrytest.Push(t, e, tgt, p, "v1")
	id := fin.Release.ReleaseID
	recKey := "releases/acme/prod/acme%2Flocked/" + id + ".json"
	blob := "blobs/sha256/" + p.FileHex
	for _, k := range []string{recKey, blob} {
		until, _ := retention(t, c, bucket, k)
		if until.Before(time.Now().Add(50*time.Minute)) || until.After(time.Now().Add(2*time.Hour)) {
			t.Fatalf("%s retained until %v, want about an hour", k, until)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(testPrefix + "/" + k)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(testPrefix + "/" + k), VersionId: head.VersionId}); err == nil {
			t.Fatalf("the retained version of %s was deleted", k)
		}
	}
	// push --retain 10y lengthens the blob and every record of the release.
	if _, err := registrytest.PushWith(t, e, tgt, p, protocol.ReleaseInfo{Labels: []string{"long"}, Retain: "10y"}); err != nil {
		t.Fatal(err)
	}
	tenYears := time.Now().Add(10*365*24*time.Hour - time.Hour)
	for _, k := range []string{recKey, blob, "releases/acme/prod/acme%2Flocked/" + id + "/2.json"} {
		if until, _ := retention(t, c, bucket, k); until.Before(tenYears) {
			t.Fatalf("%s retained until %v after --retain 10y", k, until)
		}
	}
	// A shorter --retain never shortens.
	if _, err := registrytest.PushWith(t, e, tgt, p, protocol.ReleaseInfo{Retain: "1d"}); err != nil {
		t.Fatal(err)
	}
	if until, _ := retention(t, c, bucket, blob); until.Before(tenYears) {
		t.Fatalf("blob retention shortened to %v", until)
	}
	if _, err := registrytest.PushWith(t, e, tgt, p, protocol.ReleaseInfo{Retain: "forever"}); registrytest.Code(err) != protocol.CodeInvalidRequest {
		t.Fatalf("--retain forever: %v", err)
	}
	// Legal holds.
	r := e.A.(*registry.Registry)
	held, err := r.Hold(ctx, &protocol.HoldRequest{Target: tgt, ReleaseID: id, Hold: true})
	if err != nil || len(held.Objects) != 4 {
		t.Fatalf("hold: %+v %v", held, err)
	}
	for _, k := range held.Objects {
		if _, on := retention(t, c, bucket, k); !on {
			t.Fatalf("%s not held", k)
		}
	}
	if _, err := r.Hold(ctx, &protocol.HoldRequest{Target: tgt, ReleaseID: id, Hold: false}); err != nil {
		t.Fatal(err)
	}
	if _, on := retention(t, c, bucket, blob); on {
		t.Fatal("hold not cleared")
	}
	if _, err := r.Hold(ctx, &protocol.HoldRequest{Target: tgt, ReleaseID: registry.NewReleaseID(time.Now()), Hold: true}); registrytest.Code(err) != protocol.CodeNotFound {
		t.Fatalf("hold of an unknown release: %v", err)
	}
	// gc keeps a retained blob no release references.
	orphan := registrytest.MakePack(t, dir, "o.epack", "orphan")
	if err := s.CreateSealed(ctx, "blobs/sha256/"+orphan.FileHex, orphan.Data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	resp, err := r.GC(ctx, &protocol.GCRequest{OlderThanSeconds: 0})
	if err != nil || resp.Kept["retained"] != 1 {
		t.Fatalf("gc: %+v %v", resp, err)
	}
	for _, it := range resp.Removed {
		if strings.HasPrefix(it.Key, "blobs/") {
			t.Fatalf("gc removed %s", it.Key)
		}
	}
	if rep := registrytest.VerifyLog(t, e, tgt); !rep.OK() || len(rep.Chain) != 3 {
		t.Fatalf("log: %+v", rep.Problems)
	}
	// Write-once keeps every locked version, but the adapter's own
	// credentials can still add a version over a key (a plain PUT) or a
	// delete marker (a plain DELETE): what readers of the key see changes,
	// the locked version's bytes stay readable by its version id, and log
	// verify names the change; putting the locked bytes back makes it clean.
	pulls := func(what string) {
		t.Helper()
		pp, err := r.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: protocol.PullRef{ReleaseID: id}})
		if err != nil || pp.Pack.Digest != "sha256:"+p.FileHex {
			t.Fatalf("pull %s: %+v %v", what, pp, err)
		}
	}
	lockedVersion := map[string]*string{} // the version each key was written with, by the registry, retained
	for _, k := range []string{recKey, blob} {
		vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(testPrefix + "/" + k)})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Versions {
			if aws.ToString(v.Key) == testPrefix+"/"+k {
				if until, _ := retentionOf(t, c, bucket, k, v.VersionId); !until.IsZero() && lockedVersion[k] == nil {
					lockedVersion[k] = v.VersionId
				}
			}
		}
		if lockedVersion[k] == nil {
			t.Fatalf("%s has no retained version: %+v", k, vs.Versions)
		}
	}
	for _, tc := range []struct {
		key, kind, what string
		del             bool
	}{
		{recKey, registry.ProblemAltered, "a new version of the release's first record", false},
		{blob, registry.ProblemBlobChanged, "a new version of the pack blob", false},
		{recKey, registry.ProblemMissing, "a delete marker over the release's first record", true},
		{blob, registry.ProblemBlobMissing, "a delete marker over the pack blob", true},
	} {
		full := testPrefix + "/" + tc.key
		locked := lockedVersion[tc.key]
		orig := getVersion(t, c, bucket, full, locked)
		if tc.del {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(full)}); err != nil {
				t.Fatalf("%s: the plain DELETE was refused: %v", tc.what, err)
			}
			if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(full)}); err == nil {
				t.Fatalf("%s: the key still reads", tc.what)
			}
		} else {
			changed := bytes.Clone(orig)
			changed[len(changed)/2] ^= 1
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(full), Body: bytes.NewReader(changed)}); err != nil {
				t.Fatalf("%s: the plain PUT was refused: %v", tc.what, err)
			}
			if got := getVersion(t, c, bucket, full, nil); !bytes.Equal(got, changed) {
				t.Fatalf("%s: the key reads %d other bytes", tc.what, len(got))
			}
		}
		if got := getVersion(t, c, bucket, full, locked); !bytes.Equal(got, orig) {
			t.Fatalf("%s: the locked version %s no longer has its bytes", tc.what, aws.ToString(locked))
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(full), VersionId: locked}); err == nil {
			t.Fatalf("%s: the locked version was deleted", tc.what)
		}
		rep := registrytest.VerifyLog(t, e, tgt)
		found := false
		for _, pr := range rep.Problems {
			found = found || pr.Kind == tc.kind && pr.ReleaseID == id
		}
		if !found {
			t.Fatalf("%s: log verify does not name it (%s): %+v", tc.what, tc.kind, rep.Problems)
		}
		if tc.key == recKey {
			pulls("past " + tc.what) // pull reads the newest record, which is untouched
		} else if _, err := r.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: protocol.PullRef{ReleaseID: id}}); tc.del && registrytest.Code(err) != protocol.CodeNotFound {
			t.Fatalf("pull past %s: %v", tc.what, err)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(full), Body: bytes.NewReader(orig)}); err != nil {
			t.Fatal(err)
		}
		if rep := registrytest.VerifyLog(t, e, tgt); !rep.OK() || len(rep.Chain) != 3 {
			t.Fatalf("%s, the locked bytes put back: %+v", tc.what, rep.Problems)
		}
		pulls("once " + tc.what + " is undone")
	}
	if id, err := r.Whoami(ctx); err != nil || !strings.Contains(id.Issuer, "Object Lock COMPLIANCE, retain 1h") {
		t.Fatalf("whoami: %+v %v", id, err)
	}

	// A bucket without Object Lock is refused, clearly, before any write.
	plain := l.NewLockBucket(t, false)
	ps := lockStore(t, l, plain, lock)
	pr := registry.New(ps, registry.Options{Name: "s3"})
	_, err = pr.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: tgt, Pack: p.Info()})
	if registrytest.Code(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), "does not have S3 Object Lock enabled") {
		t.Fatalf("push to a bucket without Object Lock: %v", err)
	}
	if _, err := pr.Whoami(ctx); err == nil || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("whoami on a bucket without Object Lock: %v", err)
	}
	if ents, _ := ps.List(ctx, "", 0); len(ents) != 0 {
		t.Fatalf("wrote %v", ents)
	}
}

// TestObjectLockSuite: the registry suite on a bucket with Object Lock, as
// a non-root account. Left out are the cases that fake an older registry
// by deleting objects and writing them again (Versions, LegacyListing,
// LogLegacy): on a versioned bucket versitygw refuses If-None-Match: * over
// a delete marker, which AWS S3 accepts, and no push does that.
func TestObjectLockSuite(t *testing.T) {
	l := testenv.RequireLockServer(t)
	h := func(t *testing.T) *registrytest.Env {
		bucket := l.NewLockBucket(t, true)
		s := lockStore(t, l, bucket, &s3store.ObjectLock{Mode: "GOVERNANCE", Retain: time.Hour, RetainText: "1h"})
		return lockEnv(t, l, bucket, s)
	}
	for _, c := range []struct {
		name string
		run  func(*testing.T, *registrytest.Env)
	}{
		{"Flow", registrytest.Flow}, {"WrongBytes", registrytest.WrongBytes}, {"HostileNames", registrytest.HostileNames},
		{"Concurrent16", func(t *testing.T, e *registrytest.Env) { registrytest.Concurrent(t, e, 16) }},
		{"SamePack8", func(t *testing.T, e *registrytest.Env) { registrytest.SamePack(t, e, 8) }},
		{"Releases", registrytest.Releases}, {"Notes", registrytest.Notes},
		{"Log", registrytest.Log}, {"LogTamper", registrytest.LogTamper}, {"GC", registrytest.GC},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, h(t)) })
	}
}

func TestObjectLockConfig(t *testing.T) {
	c, _, err := s3store.ParseConfig(`{"bucket":"evidence","object_lock":{"mode":"compliance","retain":"7y"}}`)
	if err != nil || c.ObjectLock == nil || c.ObjectLock.Mode != "COMPLIANCE" || c.ObjectLock.Retain != 7*365*24*time.Hour {
		t.Fatalf("%+v %v", c.ObjectLock, err)
	}
	if !s3store.ObjectLockOf(`{"bucket":"evidence","object_lock":{"mode":"GOVERNANCE","retain":"90d"}}`) || s3store.ObjectLockOf(`{"bucket":"evidence"}`) {
		t.Fatal("ObjectLockOf")
	}
	for _, bad := range []string{
		`{"bucket":"evidence","object_lock":{"mode":"STRICT","retain":"7y"}}`,
		`{"bucket":"evidence","object_lock":{"mode":"GOVERNANCE","retain":"forever"}}`,
		`{"bucket":"evidence","object_lock":{"mode":"GOVERNANCE"}}`,
		`{"bucket":"evidence","object_lock":{"mode":"GOVERNANCE","retain":"7y","extra":1}}`,
		`{"bucket":"evidence","object_lock":"yes"}`,
	} {
		if _, _, err := s3store.ParseConfig(bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
