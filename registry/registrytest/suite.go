package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Env is one fresh registry under test.
type Env struct {
	A     Adapter
	Store registry.Store // the same registry, for inspection
	// FileRoot, when set, is the directory every file:// URL must stay in.
	FileRoot string
	// ForceUpload stores data at an upload target bypassing any server-side
	// check (S3: a plain PutObject to the staging key).
	ForceUpload func(t testing.TB, tgt protocol.TransferTarget, data []byte)
	// AllKeys lists every object of the backing store (the whole bucket or
	// the directory above the root); each must start with Prefix.
	AllKeys func(t testing.TB) []string
	Prefix  string
	// HeadersOverHTTP sends upload headers over plain http (the real host
	// does not; in-process tests of the signed-header mode do).
	HeadersOverHTTP bool
	// Overwrite and Remove change the backing store behind the registry's
	// back (tampering tests); nil means Store.Put and Store.Delete.
	Overwrite func(t testing.TB, key string, data []byte)
	Remove    func(t testing.TB, key string)
}

// Harness makes a fresh Env for one test.
type Harness func(t *testing.T) *Env

// RunAll runs the whole registry suite.
func RunAll(t *testing.T, h Harness) {
	t.Run("Flow", func(t *testing.T) { Flow(t, h(t)) })
	t.Run("WrongBytes", func(t *testing.T) { WrongBytes(t, h(t)) })
	t.Run("HostileNames", func(t *testing.T) { HostileNames(t, h(t)) })
	t.Run("HostileRuns", func(t *testing.T) { HostileRuns(t, h(t)) })
	t.Run("Concurrent16", func(t *testing.T) { Concurrent(t, h(t), 16) })
	t.Run("SamePack8", func(t *testing.T) { SamePack(t, h(t), 8) })
	t.Run("Releases", func(t *testing.T) { Releases(t, h(t)) })
	t.Run("Versions", func(t *testing.T) { Versions(t, h(t)) })
	t.Run("ConcurrentVersion8", func(t *testing.T) { ConcurrentVersion(t, h(t), 8) })
	t.Run("Notes", func(t *testing.T) { Notes(t, h(t)) })
	t.Run("Signers", func(t *testing.T) { Signers(t, h(t)) })
	t.Run("LegacyListing", func(t *testing.T) { LegacyListing(t, h(t)) })
	t.Run("Log", func(t *testing.T) { Log(t, h(t)) })
	t.Run("LogTamper", func(t *testing.T) { LogTamper(t, h(t)) })
	t.Run("LogLegacy", func(t *testing.T) { LogLegacy(t, h(t)) })
	t.Run("GC", func(t *testing.T) { GC(t, h(t)) })
}

var target = protocol.TargetConfig{Workspace: "acme", Environment: "prod", Stream: "acme/evidence"}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Push runs prepare → upload → finalize and returns both answers.
func Push(t testing.TB, e *Env, tgt protocol.TargetConfig, p Pack, labels ...string) (*protocol.PushPrepareResponse, *protocol.PushFinalizeResponse) {
	t.Helper()
	ctx := ctxT(t)
	prep, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{
		Remote: "origin", Target: tgt, Pack: p.Info(),
		Release: protocol.ReleaseInfo{Labels: labels, Notes: "n", BuildContext: map[string]string{"git_sha": "abc"}},
	})
	if err != nil {
		t.Fatalf("push.prepare: %v", err)
	}
	if prep.FinalizeToken == "" {
		t.Fatal("push.prepare: empty finalize_token")
	}
	if prep.Upload.Method != protocol.MethodSkip {
		checkURL(t, e, prep.Upload.URL)
		if err := UploadRaw(t, prep.Upload, p.Data, e.HeadersOverHTTP); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	fin, err := e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{
		Remote: "origin", Target: tgt,
		Pack:          protocol.PackInfo{Path: p.Path, Digest: p.PackDigest, SizeBytes: int64(len(p.Data))},
		FinalizeToken: prep.FinalizeToken,
	})
	if err != nil {
		t.Fatalf("push.finalize: %v", err)
	}
	return prep, fin
}

func checkURL(t testing.TB, e *Env, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("bad URL %q: %v", raw, err)
	}
	if e.FileRoot != "" {
		if u.Scheme != "file" || !strings.HasPrefix(u.Path, e.FileRoot+"/") {
			t.Fatalf("URL %q is not a file:// URL inside %s", raw, e.FileRoot)
		}
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		t.Fatalf("URL %q is not http(s)", raw)
	}
}

func pull(t testing.TB, e *Env, tgt protocol.TargetConfig, ref protocol.PullRef) (*protocol.PullPrepareResponse, error) {
	return e.A.PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Remote: "origin", Target: tgt, Ref: ref})
}

func wantCode(t testing.TB, err error, code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, code)
	}
	if c := Code(err); c != code {
		t.Fatalf("%s: code %q, want %q (%v)", what, c, code, err)
	}
}

// Flow is the full protocol round trip.
func Flow(t *testing.T, e *Env) {
	ctx := ctxT(t)
	dir := t.TempDir()
	p1 := MakePack(t, dir, "one.epack", "one")
	p2 := MakePack(t, dir, "two.epack", "two")

	prep, fin := Push(t, e, target, p1, "monthly", "v1.0.0")
	if prep.Upload.Method == protocol.MethodSkip {
		t.Fatal("first push skipped the upload")
	}
	rel1 := fin.Release.ReleaseID
	if !registry.ValidReleaseID(rel1) || fin.Release.CreatedAt.IsZero() || fin.Release.CanonicalRef == "" {
		t.Fatalf("bad release %+v", fin.Release)
	}
	if fin.Release.PackDigest != p1.PackDigest {
		t.Fatalf("release pack_digest %q, want %q", fin.Release.PackDigest, p1.PackDigest)
	}

	// Push again: skip, same release, labels merged.
	prep, fin = Push(t, e, target, p1, "extra", "monthly", "version:2.0")
	if prep.Upload.Method != protocol.MethodSkip {
		t.Fatalf("second push: upload method %q, want skip", prep.Upload.Method)
	}
	if fin.Release.ReleaseID != rel1 {
		t.Fatalf("second push made release %s, want the existing %s", fin.Release.ReleaseID, rel1)
	}
	var ext struct{ Labels []string }
	b, _ := json.Marshal(fin.Extensions)
	json.Unmarshal(b, &ext)
	if len(ext.Labels) != 4 {
		t.Fatalf("merged labels = %v, want monthly v1.0.0 extra version:2.0", fin.Extensions["labels"])
	}

	// The same pack in another stream is another release.
	other := target
	other.Stream = "acme/other"
	_, finO := Push(t, e, other, p1)
	if finO.Release.ReleaseID == rel1 {
		t.Fatal("another stream reused the release id")
	}

	time.Sleep(2 * time.Millisecond)
	_, fin2 := Push(t, e, target, p2, "v1.1.0")
	rel2 := fin2.Release.ReleaseID
	if rel2 <= rel1 {
		t.Fatalf("release ids not time-ordered: %s then %s", rel1, rel2)
	}

	// runs.sync
	sidecar := strings.TrimSuffix(p1.Path, ".epack") + ".runs"
	r1 := WriteRun(t, sidecar, "run-001", `{"ok":true}`)
	r2 := WriteRun(t, sidecar, "run-002", `{"ok":false}`)
	rs, err := e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: p1.FileDigest, PackPath: p1.Path, Runs: []protocol.RunItem{r1, r2}})
	if err != nil {
		t.Fatalf("runs.sync: %v", err)
	}
	if rs.Accepted != 2 || rs.Rejected != 0 || len(rs.Items) != 2 {
		t.Fatalf("runs.sync = %+v", rs)
	}
	r2b := WriteRun(t, sidecar, "run-002", `{"ok":"changed"}`)
	rs, err = e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: p1.FileDigest, PackPath: p1.Path, Runs: []protocol.RunItem{r1, r2b}})
	if err != nil {
		t.Fatalf("runs.sync again: %v", err)
	}
	if rs.Items[0].Status != protocol.RunDuplicate || rs.Items[1].Status != protocol.RunRejected || rs.Items[1].Reason == "" || rs.Accepted != 0 || rs.Rejected != 1 {
		t.Fatalf("runs.sync again = %+v", rs)
	}
	if got, _, err := e.Store.Get(ctx, "runs/"+p1.FileHex+"/run-001/result.json", 1<<20); err != nil || string(got) != `{"ok":true}` {
		t.Fatalf("stored run = %q, %v", got, err)
	}

	// pull.prepare by every kind of ref; the host sends no stream.
	envOnly := protocol.TargetConfig{Workspace: target.Workspace, Environment: target.Environment}
	cases := []struct {
		name string
		tgt  protocol.TargetConfig
		ref  protocol.PullRef
		rel  string
		pack Pack
	}{
		{"latest", envOnly, protocol.PullRef{Latest: true}, rel2, p2},
		{"empty ref = latest", envOnly, protocol.PullRef{}, rel2, p2},
		{"latest in stream", other, protocol.PullRef{Latest: true}, finO.Release.ReleaseID, p1},
		{"release_id", envOnly, protocol.PullRef{ReleaseID: rel1}, rel1, p1},
		{"version", envOnly, protocol.PullRef{Version: "v1.0.0"}, rel1, p1},
		{"version label", envOnly, protocol.PullRef{Version: "2.0"}, rel1, p1},
		{"version without v", envOnly, protocol.PullRef{Version: "1.1.0"}, rel2, p2},
		{"digest in stream", target, protocol.PullRef{Digest: p1.FileDigest}, rel1, p1},
		{"digest", envOnly, protocol.PullRef{Digest: p2.FileDigest}, rel2, p2},
	}
	for _, c := range cases {
		pp, err := pull(t, e, c.tgt, c.ref)
		if err != nil {
			t.Fatalf("pull.prepare %s: %v", c.name, err)
		}
		if pp.Pack.ReleaseID != c.rel || pp.Pack.Digest != c.pack.FileDigest || pp.Pack.SizeBytes != int64(len(c.pack.Data)) || pp.Pack.CreatedAt.IsZero() || pp.Pack.Stream == "" {
			t.Fatalf("pull.prepare %s = %+v, want release %s digest %s", c.name, pp.Pack, c.rel, c.pack.FileDigest)
		}
		checkURL(t, e, pp.Download.URL)
		if got := Download(t, pp.Download); !bytes.Equal(got, c.pack.Data) {
			t.Fatalf("pull %s: downloaded bytes differ", c.name)
		}
		pf, err := e.A.PullFinalize(ctx, &protocol.PullFinalizeRequest{Remote: "origin", Target: c.tgt, Digest: pp.Pack.Digest, FinalizeToken: pp.FinalizeToken})
		if err != nil || !pf.Confirmed {
			t.Fatalf("pull.finalize %s: %+v %v", c.name, pf, err)
		}
	}
	pp, _ := pull(t, e, envOnly, protocol.PullRef{ReleaseID: rel1})
	if len(pp.Pack.Labels) != 4 || pp.Pack.Version == "" {
		t.Fatalf("pulled labels %v version %q", pp.Pack.Labels, pp.Pack.Version)
	}
	if recs, err := e.Store.List(ctx, "pulls/"+p1.FileHex+"/", 0); err != nil || len(recs) < 4 {
		t.Fatalf("fetch records: %d, %v", len(recs), err)
	}

	// Refs that do not resolve.
	for _, ref := range []protocol.PullRef{
		{Version: "v9.9.9"},
		{ReleaseID: registry.NewReleaseID(time.Now())},
		{Digest: "sha256:" + strings.Repeat("0", 64)},
	} {
		_, err := pull(t, e, envOnly, ref)
		wantCode(t, err, protocol.CodeNotFound, fmt.Sprintf("pull %+v", ref))
	}
	_, err = pull(t, e, protocol.TargetConfig{Workspace: "nobody"}, protocol.PullRef{Latest: true})
	wantCode(t, err, protocol.CodeNotFound, "pull latest from an empty workspace")
	_, err = pull(t, e, envOnly, protocol.PullRef{Latest: true, Version: "v1"})
	wantCode(t, err, protocol.CodeInvalidRequest, "two refs")
	_, err = pull(t, e, envOnly, protocol.PullRef{ReleaseID: "rel_../../x"})
	wantCode(t, err, protocol.CodeInvalidRequest, "bad release id")

	// A finalize token is bound to its target.
	prep2, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: p2.Info()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: other, Pack: protocol.PackInfo{SizeBytes: int64(len(p2.Data))}, FinalizeToken: prep2.FinalizeToken})
	wantCode(t, err, protocol.CodeInvalidRequest, "finalize with another target")
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: target, FinalizeToken: "../../etc/passwd"})
	wantCode(t, err, protocol.CodeInvalidRequest, "finalize with a hostile token")

	id, err := e.A.Whoami(ctx)
	if err != nil || !id.Authenticated || id.Subject == "" || id.Issuer == "" {
		t.Fatalf("whoami = %+v, %v", id, err)
	}
	checkPrefix(t, e)
}

// WrongBytes: an upload whose bytes differ from the declared digest is
// refused at finalize and nothing is published.
func WrongBytes(t *testing.T, e *Env) {
	ctx := ctxT(t)
	dir := t.TempDir()
	p := MakePack(t, dir, "p.epack", "good")
	bad := bytes.Clone(p.Data)
	bad[len(bad)/2] ^= 0xff
	prep, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: p.Info()})
	if err != nil {
		t.Fatal(err)
	}
	// Through the real upload target, the server refuses outright when the
	// upload is signed with Content-MD5 (S3, signed headers).
	err = UploadRaw(t, prep.Upload, bad, e.HeadersOverHTTP)
	if signed := prep.Upload.Headers["Content-Md5"] != "" && (e.HeadersOverHTTP || strings.HasPrefix(prep.Upload.URL, "https:")); signed && err == nil {
		t.Fatal("S3 accepted bytes that do not match the signed Content-MD5")
	}
	// Bypassing server checks, finalize must still refuse.
	e.ForceUpload(t, prep.Upload, bad)
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: target, Pack: protocol.PackInfo{SizeBytes: int64(len(p.Data))}, FinalizeToken: prep.FinalizeToken})
	wantCode(t, err, protocol.CodeInvalidRequest, "finalize after wrong bytes")
	if !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("unclear message: %v", err)
	}
	// Wrong size too.
	prep, _ = e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: p.Info()})
	e.ForceUpload(t, prep.Upload, p.Data[:len(p.Data)-1])
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: target, FinalizeToken: prep.FinalizeToken})
	wantCode(t, err, protocol.CodeInvalidRequest, "finalize after short upload")
	// Finalize with no upload at all.
	prep, _ = e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: p.Info()})
	_, err = e.A.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: target, FinalizeToken: prep.FinalizeToken})
	wantCode(t, err, protocol.CodeNotFound, "finalize without upload")

	for _, pre := range []string{"blobs/", "releases/", "streams/"} {
		if got, err := e.Store.List(ctx, pre, 0); err != nil || len(got) != 0 {
			t.Fatalf("%s after refused uploads: %v %v", pre, got, err)
		}
	}
	_, err = pull(t, e, target, protocol.PullRef{Latest: true})
	wantCode(t, err, protocol.CodeNotFound, "pull after refused uploads")
	// The good bytes still go through afterwards.
	Push(t, e, target, p)
	checkPrefix(t, e)
}

// HostileNames: every name that becomes a key is validated.
func HostileNames(t *testing.T, e *Env) {
	ctx := ctxT(t)
	p := MakePack(t, t.TempDir(), "p.epack", "hostile")
	long := strings.Repeat("a", 256)
	bad := []protocol.TargetConfig{
		{Workspace: "..", Stream: "s"},
		{Workspace: "a/b", Stream: "s"},
		{Workspace: "a\x00b", Stream: "s"},
		{Environment: "../../etc", Stream: "s"},
		{Environment: "e\nv", Stream: "s"},
		{Stream: "../escape"},
		{Stream: "a/../../b"},
		{Stream: "/abs"},
		{Stream: "a//b"},
		{Stream: "a/"},
		{Stream: "x\x00y"},
		{Stream: "back\\slash"},
		{Stream: long},
		{Workspace: long, Stream: "s"},
		{Stream: strings.Repeat("é", 100)}, // 200 bytes raw, 600 escaped
		{Stream: ""},
	}
	for _, tgt := range bad {
		_, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: tgt, Pack: p.Info()})
		wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("push.prepare target %q", tgt))
		if tgt != (protocol.TargetConfig{}) {
			_, err = pull(t, e, tgt, protocol.PullRef{Latest: true})
			wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("pull.prepare target %q", tgt))
		}
	}
	for _, l := range []string{"a/b", "..", "x\x00", long} {
		_, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: p.Info(), Release: protocol.ReleaseInfo{Labels: []string{l}}})
		wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("label %q", l))
	}
	for _, pi := range []protocol.PackInfo{
		{FileDigest: "sha256:../../x", SizeBytes: 3, Checksum: p.Checksum},
		{FileDigest: "md5:abc", SizeBytes: 3},
		{FileDigest: p.FileDigest, SizeBytes: -1},
		{FileDigest: strings.ToUpper(p.FileDigest), SizeBytes: 3},
		{SizeBytes: 3},
	} {
		_, err := e.A.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: target, Pack: pi})
		wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("pack %+v", pi))
	}
	for _, v := range []string{"../v1", "v1/../../x", "a\x00"} {
		_, err := pull(t, e, target, protocol.PullRef{Version: v})
		wantCode(t, err, protocol.CodeInvalidRequest, fmt.Sprintf("version %q", v))
	}
	_, err := pull(t, e, target, protocol.PullRef{Digest: "sha256:../../../etc/passwd"})
	wantCode(t, err, protocol.CodeInvalidRequest, "digest ref")

	// Odd but legal names are escaped into single segments and work.
	odd := protocol.TargetConfig{Workspace: "ws %2F.x", Environment: "@default", Stream: "a b/ç/.hidden/%2e%2e/..x"}
	Push(t, e, odd, p, "v1")
	pp, err := pull(t, e, odd, protocol.PullRef{Version: "v1"})
	if err != nil || pp.Pack.Stream != odd.Stream {
		t.Fatalf("odd names: %+v %v", pp, err)
	}
	// "@default" as a real name does not collide with the empty environment.
	_, err = pull(t, e, protocol.TargetConfig{Workspace: odd.Workspace}, protocol.PullRef{Latest: true})
	wantCode(t, err, protocol.CodeNotFound, "empty environment vs @default")
	checkPrefix(t, e)
}

// HostileRuns: result paths outside the sidecar, symlinks, oversize, bad ids.
func HostileRuns(t *testing.T, e *Env) {
	ctx := ctxT(t)
	dir := t.TempDir()
	p := MakePack(t, dir, "p.epack", "runs")
	Push(t, e, target, p)
	sidecar := filepath.Join(dir, "p.runs")
	good := WriteRun(t, sidecar, "ok-run", `{"a":1}`)

	outside := WriteRun(t, filepath.Join(dir, "elsewhere.runs"), "out", `{"a":2}`)
	secret := filepath.Join(dir, "secret.json")
	os.WriteFile(secret, []byte(`{"secret":true}`), 0o644)
	linkDir := filepath.Join(sidecar, "tools", "x", "linked")
	os.MkdirAll(linkDir, 0o755)
	os.Symlink(secret, filepath.Join(linkDir, "result.json"))
	linked := protocol.RunItem{RunID: "linked", ResultPath: filepath.Join(linkDir, "result.json"), ResultDigest: WriteRunDigest(`{"secret":true}`)}
	// a symlinked folder inside the sidecar
	realDir := filepath.Join(dir, "real")
	WriteRun(t, realDir, "viadir", `{"a":3}`)
	os.Symlink(filepath.Join(realDir, "tools"), filepath.Join(sidecar, "ltools"))
	viaDir := protocol.RunItem{RunID: "viadir", ResultPath: filepath.Join(sidecar, "ltools", "x", "viadir", "result.json"), ResultDigest: WriteRunDigest(`{"a":3}`)}
	dotdot := protocol.RunItem{RunID: "dotdot", ResultPath: sidecar + "/../secret.json", ResultDigest: WriteRunDigest(`{"secret":true}`)}
	big := WriteRun(t, sidecar, "big", `{"x":"`+strings.Repeat("x", registry.MaxRunResultBytes)+`"}`)
	notJSON := WriteRun(t, sidecar, "notjson", `not json`)
	wrongDigest := good
	wrongDigest.RunID = "wrongdigest"
	wrongDigest.ResultDigest = WriteRunDigest("other")
	badID := good
	badID.RunID = "../../../x"
	nulID := good
	nulID.RunID = "a\x00b"
	fifoDir := filepath.Join(sidecar, "tools", "x", "fifo")
	os.MkdirAll(fifoDir, 0o755)
	fifo := protocol.RunItem{RunID: "fifo", ResultPath: filepath.Join(fifoDir, "result.json"), ResultDigest: good.ResultDigest}
	mkfifo(filepath.Join(fifoDir, "result.json"))

	runs := []protocol.RunItem{good, outside, linked, viaDir, dotdot, big, notJSON, wrongDigest, badID, nulID, fifo}
	rs, err := e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: p.FileDigest, PackPath: p.Path, Runs: runs})
	if err != nil {
		t.Fatalf("runs.sync: %v", err)
	}
	if rs.Accepted != 1 || rs.Rejected != len(runs)-1 {
		t.Fatalf("runs.sync = %+v", rs)
	}
	for i, it := range rs.Items {
		if i > 0 && (it.Status != protocol.RunRejected || it.Reason == "") {
			t.Fatalf("run %q: %+v", runs[i].RunID, it)
		}
	}
	if got, _ := e.Store.List(ctx, "runs/", 0); len(got) != 1 {
		t.Fatalf("stored runs: %v", got)
	}
	// Without pack_path, a result must still be inside some *.runs folder.
	rs, err = e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: p.FileDigest, Runs: []protocol.RunItem{good, {RunID: "s", ResultPath: secret, ResultDigest: WriteRunDigest(`{"secret":true}`)}}})
	if err != nil || rs.Items[0].Status != protocol.RunDuplicate || rs.Items[1].Status != protocol.RunRejected {
		t.Fatalf("runs.sync without pack_path = %+v, %v", rs, err)
	}
	// Unknown pack.
	_, err = e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: "sha256:" + strings.Repeat("1", 64), PackPath: p.Path, Runs: []protocol.RunItem{good}})
	wantCode(t, err, protocol.CodeNotFound, "runs.sync for an unknown pack")
	_, err = e.A.RunsSync(ctx, &protocol.RunsSyncRequest{Target: target, FileDigest: p.FileDigest, PackPath: "relative/p.epack", Runs: []protocol.RunItem{good}})
	wantCode(t, err, protocol.CodeInvalidRequest, "relative pack_path")
	checkPrefix(t, e)
}

// WriteRunDigest returns sha256:<hex> of body.
func WriteRunDigest(body string) string {
	return digestOf([]byte(body))
}

// Concurrent: n pushers of n different packs into one stream.
func Concurrent(t *testing.T, e *Env, n int) {
	ctx := ctxT(t)
	dir := t.TempDir()
	packs := make([]Pack, n)
	for i := range packs {
		packs[i] = MakePack(t, dir, fmt.Sprintf("p%02d.epack", i), fmt.Sprintf("concurrent-%d", i))
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range packs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sub := &captureT{TB: t}
			sub.run(func() {
				_, fin := Push(sub, e, target, packs[i], fmt.Sprintf("v1.%d", i))
				ids[i] = fin.Release.ReleaseID
			})
			if sub.failed != "" {
				errs <- fmt.Errorf("pusher %d: %s", i, sub.failed)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(uniq) != n {
		t.Fatalf("%d distinct releases, want %d: %v", len(uniq), n, ids)
	}
	// Every release is listed, newest first (the listing replaced index.json).
	listed := ListAll(t, e, protocol.ReleasesListRequest{Target: target}, 5)
	if got := releaseIDs(listed); !slices.Equal(got, sortedDesc(uniq)) {
		t.Fatalf("listed %v, want %v", got, sortedDesc(uniq))
	}
	pp, err := pull(t, e, target, protocol.PullRef{Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids, pp.Pack.ReleaseID) || pp.Pack.ReleaseID != uniq[len(uniq)-1] {
		t.Fatalf("latest %s, want the newest of %v", pp.Pack.ReleaseID, uniq)
	}
	recs, _ := e.Store.List(ctx, "releases/", 0)
	if len(recs) != n {
		t.Fatalf("%d release records, want %d", len(recs), n)
	}
	// One chain of n records, each release's first record in it.
	rep := VerifyLog(t, e, target)
	wantClean(t, rep, n)
	inChain := map[string]bool{}
	for _, c := range rep.Chain {
		inChain[c.ReleaseID] = c.Kind == registry.RecordRelease
	}
	for _, id := range ids {
		if !inChain[id] {
			t.Fatalf("release %s is not in the chain", id)
		}
	}
	for i := range packs {
		pp, err := pull(t, e, target, protocol.PullRef{Version: fmt.Sprintf("v1.%d", i)})
		if err != nil || pp.Pack.ReleaseID != ids[i] {
			t.Fatalf("version v1.%d → %+v %v, want %s", i, pp, err, ids[i])
		}
	}
}

// SamePack: n pushers of the same pack → one blob, one release, no error.
func SamePack(t *testing.T, e *Env, n int) {
	ctx := ctxT(t)
	p := MakePack(t, t.TempDir(), "same.epack", "same")
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sub := &captureT{TB: t}
			sub.run(func() {
				_, fin := Push(sub, e, target, p, fmt.Sprintf("l%d", i))
				ids[i] = fin.Release.ReleaseID
			})
			if sub.failed != "" {
				errs <- fmt.Errorf("pusher %d: %s", i, sub.failed)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("same pack gave releases %v", ids)
		}
	}
	blobs, _ := e.Store.List(ctx, "blobs/", 0)
	recs, _ := e.Store.List(ctx, "releases/", 0)
	created := 0
	for _, r := range recs {
		if strings.HasSuffix(r.Key, "/"+ids[0]+".json") {
			created++
		}
	}
	// One release, created once; every other push appended a record of it.
	if len(blobs) != 1 || created != 1 || len(recs) != n {
		t.Fatalf("blobs %v releases %v", blobs, recs)
	}
	wantClean(t, VerifyLog(t, e, target), n)
	pp, err := pull(t, e, target, protocol.PullRef{Latest: true})
	if err != nil || pp.Pack.ReleaseID != ids[0] || len(pp.Pack.Labels) != n {
		t.Fatalf("latest = %+v %v (want %d merged labels)", pp, err, n)
	}
	if listed := ListAll(t, e, protocol.ReleasesListRequest{Target: target}, 50); len(listed) != 1 || len(listed[0].Labels) != n {
		t.Fatalf("listed %+v, want one release with %d labels", listed, n)
	}
}

// checkPrefix: nothing was written outside the registry's prefix/root.
func checkPrefix(t testing.TB, e *Env) {
	t.Helper()
	if e.AllKeys == nil {
		return
	}
	for _, k := range e.AllKeys(t) {
		if !strings.HasPrefix(k, e.Prefix) {
			t.Fatalf("object %q written outside the registry prefix %q", k, e.Prefix)
		}
		rest := strings.TrimPrefix(k, e.Prefix)
		top, _, _ := strings.Cut(rest, "/")
		switch top {
		case "blobs", "releases", "streams", "runs", "staging", "pulls", ".locks":
		default:
			t.Fatalf("unexpected top-level object %q", k)
		}
		for _, seg := range strings.Split(rest, "/") {
			if seg == ".." || seg == "." || seg == "" || strings.ContainsRune(seg, 0) {
				t.Fatalf("hostile key %q", k)
			}
		}
	}
}

// captureT turns Fatal into a recorded failure so goroutines can use Push.
type captureT struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (c *captureT) Helper() {}
func (c *captureT) Fatalf(format string, args ...any) {
	c.mu.Lock()
	c.failed = fmt.Sprintf(format, args...)
	c.mu.Unlock()
	panic(captureFatal{})
}

// captureFatal is what Fatalf panics with to stop the goroutine's work.
type captureFatal struct{}

// run calls f, stopping quietly at a Fatal from f; any other panic (a real
// bug in the code under test) goes on.
func (c *captureT) run(f func()) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(captureFatal); !ok {
				panic(v)
			}
		}
	}()
	f()
}
func (c *captureT) Fatal(args ...any) { c.Fatalf("%s", fmt.Sprint(args...)) }
