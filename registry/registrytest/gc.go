package registrytest

import (
	"slices"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// prepareAndUpload runs push.prepare and the upload, and stops there: a
// push interrupted before finalize.
func prepareAndUpload(t testing.TB, e *Env, p Pack) *protocol.PushPrepareResponse {
	t.Helper()
	prep, err := e.A.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Remote: "origin", Target: target, Pack: p.Info()})
	if err != nil {
		t.Fatalf("push.prepare: %v", err)
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := UploadRaw(t, prep.Upload, p.Data, e.HeadersOverHTTP); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	return prep
}

func gc(t testing.TB, e *Env, dry bool, olderThan int64) *protocol.GCResponse {
	t.Helper()
	resp, err := e.A.GC(ctxT(t), &protocol.GCRequest{Target: protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment}, DryRun: dry, OlderThanSeconds: olderThan})
	if err != nil {
		t.Fatalf("registry.gc: %v", err)
	}
	return resp
}

func removedKeys(r *protocol.GCResponse) []string {
	var out []string
	for _, it := range r.Removed {
		out = append(out, it.Key)
	}
	return out
}

func allKeys(t testing.TB, e *Env) []string {
	t.Helper()
	var out []string
	for _, pre := range []string{"blobs/", "releases/", "streams/", "staging/", "runs/", "pulls/"} {
		ents, err := e.Store.List(ctxT(t), pre, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ents {
			out = append(out, en.Key)
		}
	}
	slices.Sort(out)
	return out
}

// GC: what interrupted pushes leave (staging records, staged uploads, temp
// files) and blobs no release references are listed by a dry run and then
// removed; nothing a release references, nothing younger than the cutoff,
// nothing of a push in flight; the registry verifies and pulls after.
func GC(t *testing.T, e *Env) {
	dir := t.TempDir()
	p1 := MakePack(t, dir, "g1.epack", "gc-kept")
	_, f1 := Push(t, e, target, p1, "v1")
	p2 := MakePack(t, dir, "g2.epack", "gc-interrupted")
	prepareAndUpload(t, e, p2) // never finalized
	orphan := MakePack(t, dir, "g3.epack", "gc-orphan")
	e.overwrite(t, "blobs/sha256/"+orphan.FileHex, orphan.Data)
	temp := ""
	if e.FileRoot != "" {
		temp = "staging/.epack-upload-123456.part"
		e.overwrite(t, temp, []byte("partial upload"))
	}

	// Everything is younger than a day.
	if r := gc(t, e, false, 86400); len(r.Removed) != 0 || r.Kept["young"] == 0 || r.Kept["referenced"] == 0 {
		t.Fatalf("gc of a young registry: %+v", r)
	}
	before := allKeys(t, e)
	dry := gc(t, e, true, 0)
	got := removedKeys(dry)
	if !dry.DryRun || !slices.Contains(got, "blobs/sha256/"+orphan.FileHex) || slices.Contains(got, "blobs/sha256/"+p1.FileHex) {
		t.Fatalf("dry run lists %v", got)
	}
	kinds := map[string]int{}
	var total int64
	for _, it := range dry.Removed {
		if it.Reason != "record of a finished push" {
			kinds[it.Kind]++
		}
		total += it.SizeBytes
		if it.Reason == "" || it.ModifiedAt.IsZero() {
			t.Fatalf("item without reason or time: %+v", it)
		}
		if strings.HasPrefix(it.Key, "releases/") || strings.HasPrefix(it.Key, "streams/") {
			t.Fatalf("gc would remove %s", it.Key)
		}
	}
	if kinds[protocol.GCStaging] != 1 || total != dry.RemovedBytes || (temp != "" && !slices.Contains(got, temp)) {
		t.Fatalf("dry run: %+v", dry)
	}
	if after := allKeys(t, e); !slices.Equal(before, after) {
		t.Fatalf("a dry run changed the registry: %v → %v", before, after)
	}

	// A push in flight is safe from a gc with the default age.
	p4 := MakePack(t, dir, "g4.epack", "gc-in-flight")
	prep4 := prepareAndUpload(t, e, p4)
	if r := gc(t, e, false, 86400); len(r.Removed) != 0 {
		t.Fatalf("gc removed %v while a push was in flight", removedKeys(r))
	}
	fin4, err := e.A.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Remote: "origin", Target: target,
		Pack: protocol.PackInfo{Path: p4.Path, Digest: p4.PackDigest, SizeBytes: int64(len(p4.Data))}, FinalizeToken: prep4.FinalizeToken})
	if err != nil {
		t.Fatalf("finalize after gc: %v", err)
	}

	// The real run removes what the dry run listed, and only that.
	// The real run removes what the dry run listed, and the record of the
	// push that finished since.
	done := gc(t, e, false, 0)
	var extra []string
	for _, it := range done.Removed {
		if !slices.Contains(got, it.Key) {
			if it.Reason != "record of a finished push" {
				t.Fatalf("gc removed %+v, which the dry run did not list", it)
			}
			extra = append(extra, it.Key)
		}
	}
	if len(done.Removed) != len(got)+len(extra) || len(extra) != 1 || done.DryRun {
		t.Fatalf("gc removed %v, the dry run listed %v", removedKeys(done), got)
	}
	for _, k := range got {
		if slices.Contains(allKeys(t, e), k) {
			t.Fatalf("%s is still there", k)
		}
	}
	if again := gc(t, e, false, 0); len(again.Removed) != 0 {
		t.Fatalf("a second gc removed %v", removedKeys(again))
	}
	wantClean(t, VerifyLog(t, e, target), 2)
	for _, f := range []*protocol.PushFinalizeResponse{f1, fin4} {
		if _, err := pull(t, e, target, protocol.PullRef{ReleaseID: f.Release.ReleaseID}); err != nil {
			t.Fatalf("pull after gc: %v", err)
		}
	}
	// The interrupted push, pushed again, publishes.
	_, f2 := Push(t, e, target, p2)
	if !registry.ValidReleaseID(f2.Release.ReleaseID) {
		t.Fatal("no release")
	}
	wantClean(t, VerifyLog(t, e, target), 3)
	checkPrefix(t, e)
}
