package s3store_test

import (
	"context"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
	"github.com/evidencerelay/epack/registry/s3store"
)

// TestRetentionInAnswers: on a bucket with Object Lock, push.finalize,
// pull.prepare and releases.list carry the release's retention — the
// configured mode, and retain_until the configured period from its
// creation, or what push --retain asked for when that is later, as the
// bucket retains its first record — and pull.prepare its legal hold. A
// bucket without extensions.object_lock answers none.
func TestRetentionInAnswers(t *testing.T) {
	l := testenv.RequireLockServer(t)
	c := l.User.Client()
	ctx := context.Background()
	lock := &s3store.ObjectLock{Mode: "GOVERNANCE", Retain: time.Hour, RetainText: "1h"}
	bucket := l.NewLockBucket(t, true)
	e := lockEnv(t, l, bucket, lockStore(t, l, bucket, lock))
	r := e.A.(*registry.Registry)
	tgt := protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/kept"}
	dir := t.TempDir()

	check := func(what string, got *protocol.Retention, want time.Time, slack time.Duration) {
		t.Helper()
		if got == nil || got.Mode != "GOVERNANCE" || got.Check() != nil {
			t.Fatalf("%s: retention %+v", what, got)
		}
		if d := got.Until().Sub(want); d < -slack || d > slack {
			t.Fatalf("%s: retain_until %s, want %s", what, got.RetainUntil, want.UTC().Format(time.RFC3339))
		}
	}
	answers := func(what string, id string, want time.Time, slack time.Duration) *protocol.PullPrepareResponse {
		t.Helper()
		pp, err := r.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: protocol.PullRef{ReleaseID: id}})
		if err != nil {
			t.Fatal(err)
		}
		check(what+" pull.prepare", pp.Retention, want, slack)
		list, err := r.ReleasesList(ctx, &protocol.ReleasesListRequest{Target: tgt})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, rel := range list.Releases {
			if rel.ReleaseID == id {
				check(what+" releases.list", rel.Retention, want, slack)
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: release %s not listed", what, id)
		}
		return pp
	}

	// The default: created_at + 1h, as the bucket retains the first record.
	p := registrytest.MakePack(t, dir, "d.epack", "default")
	_, fin := registrytest.Push(t, e, tgt, p, "v1")
	id := fin.Release.ReleaseID
	recKey := "releases/acme/prod/acme%2Fkept/" + id + ".json"
	stored, _ := retention(t, c, bucket, recKey)
	check("default push.finalize", fin.Release.Retention, fin.Release.CreatedAt.Add(time.Hour), 2*time.Second)
	check("default push.finalize (as the bucket has it)", fin.Release.Retention, stored, time.Second)
	if pp := answers("default", id, stored, time.Second); pp.Retention.LegalHold {
		t.Fatal("legal hold reported on a release that has none")
	}

	// An explicit --retain longer than the default: exactly what the
	// bucket retains the records until.
	q := registrytest.MakePack(t, dir, "r.epack", "retained")
	fin2, err := registrytest.PushWith(t, e, tgt, q, protocol.ReleaseInfo{Labels: []string{"v2"}, Retain: "30d"})
	if err != nil {
		t.Fatal(err)
	}
	id2 := fin2.Release.ReleaseID
	stored2, _ := retention(t, c, bucket, "releases/acme/prod/acme%2Fkept/"+id2+".json")
	check("--retain 30d push.finalize", fin2.Release.Retention, time.Now().Add(30*24*time.Hour), time.Minute)
	check("--retain 30d push.finalize (as the bucket has it)", fin2.Release.Retention, stored2, 0)
	answers("--retain 30d", id2, stored2, 0)

	// Pushing the first pack again with --retain lengthens its retention;
	// a shorter one later never shortens it.
	fin3, err := registrytest.PushWith(t, e, tgt, p, protocol.ReleaseInfo{Retain: "2d"})
	if err != nil || fin3.Release.ReleaseID != id {
		t.Fatalf("re-push: %+v %v", fin3, err)
	}
	check("re-push --retain 2d", fin3.Release.Retention, time.Now().Add(48*time.Hour), time.Minute)
	long := fin3.Release.Retention.Until()
	fin4, err := registrytest.PushWith(t, e, tgt, p, protocol.ReleaseInfo{Retain: "1d"})
	if err != nil {
		t.Fatal(err)
	}
	check("re-push --retain 1d", fin4.Release.Retention, long, 0)
	answers("after re-pushes", id, long, 0)

	// A legal hold shows in pull.prepare.
	if _, err := r.Hold(ctx, &protocol.HoldRequest{Target: tgt, ReleaseID: id, Hold: true}); err != nil {
		t.Fatal(err)
	}
	if pp := answers("held", id, long, 0); !pp.Retention.LegalHold {
		t.Fatalf("legal hold not reported: %+v", pp.Retention)
	}
	if _, err := r.Hold(ctx, &protocol.HoldRequest{Target: tgt, ReleaseID: id, Hold: false}); err != nil {
		t.Fatal(err)
	}

	// Without extensions.object_lock: no retention anywhere.
	plainBucket := l.NewLockBucket(t, false)
	pe := lockEnv(t, l, plainBucket, lockStore(t, l, plainBucket, nil))
	_, pf := registrytest.Push(t, pe, tgt, p, "v1")
	if pf.Release.Retention != nil {
		t.Fatalf("push.finalize without Object Lock: %+v", pf.Release.Retention)
	}
	pr := pe.A.(*registry.Registry)
	pp, err := pr.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: protocol.PullRef{Latest: true}})
	if err != nil || pp.Retention != nil {
		t.Fatalf("pull.prepare without Object Lock: %+v %v", pp, err)
	}
	list, err := pr.ReleasesList(ctx, &protocol.ReleasesListRequest{Target: tgt})
	if err != nil || len(list.Releases) != 1 || list.Releases[0].Retention != nil {
		t.Fatalf("releases.list without Object Lock: %+v %v", list, err)
	}
}
