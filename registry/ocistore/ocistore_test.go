package ocistore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// TestFlow is the round trip on a registry with TLS and htpasswd auth: the
// adapter uploads the pack itself (the host must not get the credential),
// pushing it again returns the same release with the labels merged, and
// every kind of pull gives the same bytes through a copy below the file
// root, removed at pull.finalize.
func TestFlow(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	p := registrytest.MakePack(t, dir, "p.epack", "flow")
	prep, fin, err := e.push(t, target, p, protocol.ReleaseInfo{Labels: []string{"v1.0.0", "monthly"}, Notes: "first", BuildContext: map[string]string{"git_sha": "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Upload.Method != protocol.MethodSkip || prep.Upload.URL != "" {
		t.Fatalf("an authenticated registry must not hand the host an upload URL: %+v", prep.Upload)
	}
	id := fin.Release.ReleaseID
	if !registry.ValidReleaseID(id) || fin.Release.PackDigest != p.PackDigest || fin.Extensions["existing"] != false {
		t.Fatalf("finalize %+v", fin)
	}
	if want := e.srv.Host + "/" + e.ns + "/acme/prod:" + id; fin.Release.CanonicalRef != want {
		t.Fatalf("canonical ref %q, want %q", fin.Release.CanonicalRef, want)
	}
	tags := e.tags(t, target)
	for _, want := range []string{id, "v1.0.0", "latest", "pack-sha256-" + p.FileHex} {
		if !slices.Contains(tags, want) {
			t.Fatalf("tags %v lack %s", tags, want)
		}
	}

	// Again, with another label: the same release, labels merged.
	prep2, fin2, err := e.push(t, target, p, protocol.ReleaseInfo{Labels: []string{"extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if prep2.Upload.Method != protocol.MethodSkip || fin2.Release.ReleaseID != id || fin2.Extensions["existing"] != true {
		t.Fatalf("second push %+v %+v", prep2.Upload, fin2)
	}
	if got := fmt.Sprint(fin2.Extensions["labels"]); got != "[v1.0.0 monthly extra]" {
		t.Fatalf("labels %s", got)
	}

	for _, ref := range []protocol.PullRef{{Latest: true}, {ReleaseID: id}, {Version: "v1.0.0"}, {Version: "1.0.0"}, {Digest: p.FileDigest}} {
		for _, tgt := range []protocol.TargetConfig{target, {Workspace: "acme", Environment: "prod"}} {
			if tgt.Stream == "" && (ref.Latest || ref.Version != "") {
				continue
			}
			pp, data, err := e.pull(t, tgt, ref)
			if err != nil {
				t.Fatalf("pull %+v from %+v: %v", ref, tgt, err)
			}
			if !bytes.Equal(data, p.Data) || pp.Pack.Digest != p.FileDigest || pp.Pack.ReleaseID != id || pp.Pack.Stream != "acme/prod" || pp.Pack.Version == "" {
				t.Fatalf("pull %+v: %+v", ref, pp.Pack)
			}
			if got := strings.Join(pp.Pack.Labels, ","); got != "v1.0.0,monthly,extra" {
				t.Fatalf("pulled labels %s", got)
			}
			u, _ := url.Parse(pp.Download.URL)
			if u.Scheme != "file" || !strings.HasPrefix(u.Path, e.fileRoot+"/") {
				t.Fatalf("download %s is not a copy below the file root", pp.Download.URL)
			}
			if _, err := os.Stat(u.Path); !os.IsNotExist(err) {
				t.Fatalf("pull.finalize left %s", u.Path)
			}
		}
	}

	id1, err := e.reg.Whoami(ctxT(t))
	if err != nil || !id1.Authenticated || !strings.HasPrefix(id1.Subject, e.srv.Username+" ") || id1.Issuer != e.srv.Host+"/"+e.ns {
		t.Fatalf("whoami %+v %v", id1, err)
	}
	if _, err := e.reg.PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Target: target, Ref: protocol.PullRef{Version: "v9"}}); registry.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("missing version: %v", err)
	}
}

// TestManifestIsAnOCIArtifact: the manifest has the artifact type, one
// layer with the pack bytes and the annotations the issue names.
func TestManifestIsAnOCIArtifact(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "artifact")
	fin := e.mustPush(t, p, "v2.1.0")
	path, _ := e.cfg.Repository(target)
	f, err := e.reg.lookup(ctxT(t), e.reg.c.repository(path), "v2.1.0")
	if err != nil || f == nil {
		t.Fatalf("lookup: %v", err)
	}
	var m struct {
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Config       struct{ MediaType string }
		Layers       []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Size        int64             `json:"size"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(f.raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.ArtifactType != ArtifactType || m.Config.MediaType != "application/vnd.oci.empty.v1+json" {
		t.Fatalf("manifest %s", f.raw)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType || m.Layers[0].Digest != p.FileDigest || m.Layers[0].Size != int64(len(p.Data)) ||
		m.Layers[0].Annotations["org.opencontainers.image.title"] != "acme-prod.epack" {
		t.Fatalf("layers %+v", m.Layers)
	}
	a := m.Annotations
	for k, want := range map[string]string{
		AnnotationReleaseID: fin.Release.ReleaseID, AnnotationStream: "acme/prod", AnnotationWorkspace: "acme", AnnotationEnvironment: "prod",
		AnnotationPackDigest: p.PackDigest, AnnotationManifestDigest: "sha256:" + p.PackDigest[len("sha256:"):], AnnotationVersion: "v2.1.0",
		AnnotationLabels: `["v2.1.0"]`, "org.opencontainers.image.created": fin.Release.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00"),
	} {
		if a[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, a[k], want)
		}
	}
}

// TestDirectTransfers: a registry that needs no credential gets the bytes
// from the host: push.prepare answers with the upload session (a PUT
// ?digest= the registry checks), pull.prepare with the blob URL.
func TestDirectTransfers(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			srv := testenv.StartOCIForTest(t, testenv.OCIOptions{TLS: tls})
			e := newEnv(t, srv.OCI, func(c *Config, o *Options) { c.Direct = true; o.FileRoot = "" })
			p := registrytest.MakePack(t, t.TempDir(), "p.epack", "direct")
			prep, fin, err := e.push(t, target, p, protocol.ReleaseInfo{Labels: []string{"v1"}})
			if err != nil {
				t.Fatal(err)
			}
			if prep.Upload.Method != "PUT" || !strings.Contains(prep.Upload.URL, "/blobs/uploads/") || !strings.Contains(prep.Upload.URL, "digest=sha256%3A"+p.FileHex) {
				t.Fatalf("upload %+v", prep.Upload)
			}
			pp, data, err := e.pull(t, target, protocol.PullRef{ReleaseID: fin.Release.ReleaseID})
			if err != nil {
				t.Fatal(err)
			}
			if want := srv.URL() + "/v2/" + e.ns + "/acme/prod/blobs/" + p.FileDigest; pp.Download.URL != want || !bytes.Equal(data, p.Data) {
				t.Fatalf("download %+v, want %s", pp.Download, want)
			}
			// Bytes that are not the pack are refused by the registry, and
			// finalize then finds nothing.
			q := registrytest.MakePack(t, t.TempDir(), "q.epack", "direct-wrong")
			prep, err = e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: q.Info()})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.upload(prep.Upload, p.Data); err == nil {
				t.Fatal("the registry took bytes with another digest")
			}
			_, err = e.reg.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Target: target, Pack: protocol.PackInfo{SizeBytes: int64(len(q.Data))}, FinalizeToken: prep.FinalizeToken})
			wantCode(t, err, protocol.CodeNotFound, "did not arrive")
		})
	}
}

// TestVersions: a version names one pack for good; pushing the same pack
// with it again is fine; notes are added, never replaced.
func TestVersions(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	p1 := registrytest.MakePack(t, dir, "p1.epack", "v1")
	p2 := registrytest.MakePack(t, dir, "p2.epack", "v2")
	first := e.mustPush(t, p1, "v1.0.0")
	before := e.tags(t, target)
	_, _, err := e.push(t, target, p2, protocol.ReleaseInfo{Labels: []string{"v1.0.0"}})
	wantCode(t, err, protocol.CodeConflict, `version "v1.0.0"`, first.Release.ReleaseID, p1.FileDigest, "nothing changed")
	var pe *protocol.Error
	if !errorsAs(err, &pe) || pe.Action == nil || pe.Action.Command != "epack pull origin --release "+first.Release.ReleaseID {
		t.Fatalf("action %+v", pe)
	}
	if after := e.tags(t, target); !slices.Equal(before, after) {
		t.Fatalf("a refused push changed the tags: %v → %v", before, after)
	}
	// "version:1.0.0" is another version (tag 1.0.0): p2 may have it.
	e.mustPush(t, p2, "version:1.0.0")
	if fin := e.mustPush(t, p1, "v1.0.0", "again"); fin.Release.ReleaseID != first.Release.ReleaseID {
		t.Fatalf("same pack, same version: %+v", fin.Release)
	}
	// A version of p2 already held by p1 is refused even when p2's release exists.
	_, _, err = e.push(t, target, p2, protocol.ReleaseInfo{Labels: []string{"v1.0.0"}})
	wantCode(t, err, protocol.CodeConflict, first.Release.ReleaseID)

	// Notes: added when there are none, refused when they differ.
	p3 := registrytest.MakePack(t, dir, "p3.epack", "notes")
	e.mustPush(t, p3)
	if _, fin, err := e.push(t, target, p3, protocol.ReleaseInfo{Notes: "hello"}); err != nil || fin.Extensions["existing"] != true {
		t.Fatalf("adding notes: %v", err)
	}
	_, _, err = e.push(t, target, p3, protocol.ReleaseInfo{Notes: "other"})
	wantCode(t, err, protocol.CodeConflict, "different notes")
	pp, _, err := e.pull(t, target, protocol.PullRef{Digest: p3.FileDigest})
	if err != nil || pp.Pack.ReleaseID == "" {
		t.Fatal(err)
	}

	// Versions that are no tags are refused before anything is written.
	for _, v := range []string{"version:latest", "version:rel_x", "version:-x", "version:" + strings.Repeat("1", 129)} {
		_, _, err := e.push(t, target, p3, protocol.ReleaseInfo{Labels: []string{v}})
		wantCode(t, err, protocol.CodeInvalidRequest, "tag")
	}
	// '+' is written '_'.
	e.mustPush(t, p3, "v3.0.0+build.7")
	if !slices.Contains(e.tags(t, target), "v3.0.0_build.7") {
		t.Fatal("no tag for v3.0.0+build.7")
	}
	if pp, _, err := e.pull(t, target, protocol.PullRef{Version: "v3.0.0+build.7"}); err != nil || pp.Pack.Digest != p3.FileDigest {
		t.Fatalf("pull v3.0.0+build.7: %v", err)
	}
}

// TestConcurrent: 16 pushes of 16 packs into one stream at once give 16
// releases, each pullable; latest is the newest. Then 8 pushes of one pack
// that the stream has give that release.
func TestConcurrent(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	const n = 16
	packs := make([]registrytest.Pack, n)
	for i := range packs {
		packs[i] = registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), fmt.Sprint("c", i))
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range packs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, fin, err := e.push(t, target, packs[i], protocol.ReleaseInfo{Labels: []string{fmt.Sprintf("v1.%d", i)}})
			if err == nil {
				ids[i] = fin.Release.ReleaseID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if got := len(uniq(ids)); got != n {
		t.Fatalf("%d distinct releases, want %d", got, n)
	}
	for i, id := range ids {
		pp, data, err := e.pull(t, target, protocol.PullRef{ReleaseID: id})
		if err != nil || !bytes.Equal(data, packs[i].Data) || pp.Pack.Version != fmt.Sprintf("v1.%d", i) {
			t.Fatalf("pull %s: %v %+v", id, err, pp)
		}
	}
	pp, _, err := e.pull(t, target, protocol.PullRef{Latest: true})
	if err != nil || pp.Pack.ReleaseID != slices.Max(ids) {
		t.Fatalf("latest %+v %v, want %s", pp, err, slices.Max(ids))
	}
	same := make([]string, 8)
	for i := range same {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, fin, err := e.push(t, target, packs[0], protocol.ReleaseInfo{Labels: []string{"v1.0"}})
			if err != nil {
				t.Errorf("same pack: %v", err)
				return
			}
			same[i] = fin.Release.ReleaseID
		}()
	}
	wg.Wait()
	if got := uniq(same); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("same pack gave %v, want %s", got, ids[0])
	}
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// TestClearErrors: wrong, missing and untrusted credentials and
// certificates are clear protocol errors.
func TestClearErrors(t *testing.T) {
	srv := testenv.RequireOCI(t)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "errors")
	cases := []struct {
		name, code string
		mut        func(*Config, *Options)
		text       []string
	}{
		{"wrong password", protocol.CodeAuthRequired, func(_ *Config, o *Options) { o.Credentials.Password = "wrong" },
			[]string{"refused the credentials", srv.Username, "OCI_USERNAME/OCI_PASSWORD"}},
		{"no credentials", protocol.CodeAuthRequired, func(_ *Config, o *Options) { o.Credentials = Credentials{} },
			[]string{"anonymous", "OCI_USERNAME", "secrets:"}},
		{"untrusted certificate", protocol.CodeInvalidRequest, func(c *Config, _ *Options) { c.CAFile = "" },
			[]string{"not trusted", "ca_file"}},
		{"unreachable", protocol.CodeNetworkError, func(c *Config, _ *Options) { c.Registry = "127.0.0.1:1" },
			[]string{"cannot reach"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, srv, c.mut)
			_, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: p.Info()})
			wantCode(t, err, c.code, c.text...)
			_, err = e.reg.Whoami(ctxT(t))
			wantCode(t, err, c.code)
		})
	}
	// The Docker config is read when no secret is given.
	dcfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64Std(srv.Username + ":" + srv.Password)
	os.WriteFile(dcfg, []byte(`{"auths":{"`+srv.Host+`":{"auth":"`+auth+`"}}}`), 0o600)
	e := newEnv(t, srv, func(_ *Config, o *Options) { o.Credentials = Credentials{DockerConfig: dcfg} })
	id, err := e.reg.Whoami(ctxT(t))
	if err != nil || !strings.Contains(id.Subject, srv.Username) || !strings.Contains(id.Subject, dcfg) {
		t.Fatalf("whoami with the Docker config: %+v %v", id, err)
	}
	e.mustPush(t, p, "v1")
}

// TestChangedPackFile: the adapter uploads exactly the pack the host
// verified, or nothing: a pack file that changed is refused by the
// registry (digest) and nothing is published.
func TestChangedPackFile(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "changed")
	info := p.Info()
	bad := bytes.Clone(p.Data)
	bad[len(bad)/2] ^= 1
	os.WriteFile(p.Path, bad, 0o644)
	_, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: info})
	wantCode(t, err, protocol.CodeInvalidRequest, "do not have digest", p.FileDigest)
	os.WriteFile(p.Path, p.Data[:10], 0o644)
	_, err = e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: info})
	wantCode(t, err, protocol.CodeInvalidRequest, "changed since it was verified")
	if tags := e.tags(t, target); len(tags) != 0 {
		t.Fatalf("tags %v", tags)
	}
}

// TestRepositoryGuard: a repository holds one stream of one workspace and
// environment; {environment} in the namespace separates environments.
func TestRepositoryGuard(t *testing.T) {
	srv := testenv.RequireOCI(t)
	e := newEnv(t, srv, nil)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "guard")
	e.mustPush(t, p, "v1")
	for _, tgt := range []protocol.TargetConfig{
		{Workspace: "acme", Environment: "staging", Stream: "acme/prod"},
		{Workspace: "acme", Environment: "prod", Stream: "Acme/Prod"},
	} {
		_, _, err := e.push(t, tgt, p, protocol.ReleaseInfo{})
		wantCode(t, err, protocol.CodeConflict, "map to one repository")
		if _, err := e.reg.PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Target: tgt, Ref: protocol.PullRef{Latest: true}}); registry.CodeOf(err) != protocol.CodeNotFound {
			t.Fatalf("pull from %+v: %v", tgt, err)
		}
	}
	e2 := newEnv(t, srv, func(c *Config, _ *Options) { c.Namespace += "/{environment}" })
	for _, env := range []string{"prod", "staging"} {
		tgt := protocol.TargetConfig{Workspace: "acme", Environment: env, Stream: "acme/prod"}
		if _, fin, err := e2.push(t, tgt, p, protocol.ReleaseInfo{Labels: []string{"v1"}}); err != nil || !strings.Contains(fin.Release.CanonicalRef, "/"+env+"/acme/prod:") {
			t.Fatalf("push to %s: %v", env, err)
		}
	}
}

// TestReleasesList pages through a stream's releases, newest first, and
// filters by label.
func TestReleasesList(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	var ids []string
	for i := 0; i < 7; i++ {
		labels := []string{fmt.Sprintf("v0.%d", i)}
		if i%2 == 0 {
			labels = append(labels, "even")
		}
		ids = append(ids, e.mustPush(t, registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), fmt.Sprint("l", i)), labels...).Release.ReleaseID)
	}
	slices.Reverse(ids)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		resp, err := e.reg.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: target, Limit: 3, Cursor: cursor})
		if err != nil || pages > 5 {
			t.Fatal(err)
		}
		for _, r := range resp.Releases {
			got = append(got, r.ReleaseID)
			if r.Stream != "acme/prod" || r.SizeBytes <= 0 || r.Version == "" || !strings.HasSuffix(r.CanonicalRef, ":"+r.ReleaseID) {
				t.Fatalf("entry %+v", r)
			}
		}
		if cursor = resp.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
	resp, err := e.reg.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: target, Labels: []string{"even"}})
	if err != nil || len(resp.Releases) != 4 || resp.NextCursor != "" {
		t.Fatalf("label filter: %+v %v", resp, err)
	}
	all, err := e.reg.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: protocol.TargetConfig{Workspace: "acme", Environment: "prod"}})
	if err != nil || len(all.Releases) != 7 {
		t.Fatalf("without a stream: %+v %v", all, err)
	}
}

// TestRuns: run results become referrers of the release (the tag schema on
// distribution 2.8); the same run again is a duplicate, another result
// under its id is rejected, hostile paths are rejected, and a label merge
// (a new manifest) keeps them.
func TestRuns(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	p := registrytest.MakePack(t, dir, "p.epack", "runs")
	e.mustPush(t, p, "v1")
	sidecar := strings.TrimSuffix(p.Path, ".epack") + ".runs"
	sync := func(runs ...protocol.RunItem) *protocol.RunsSyncResponse {
		t.Helper()
		resp, err := e.reg.RunsSync(ctxT(t), &protocol.RunsSyncRequest{Target: target, FileDigest: p.FileDigest, PackPath: p.Path, Runs: runs})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	status := func(resp *protocol.RunsSyncResponse) string {
		var s []string
		for _, it := range resp.Items {
			s = append(s, it.RunID+"="+it.Status)
		}
		return strings.Join(s, ",")
	}
	r1 := registrytest.WriteRun(t, sidecar, "run-001", `{"ok":true}`)
	r2 := registrytest.WriteRun(t, sidecar, "run-002", `{"ok":2}`)
	if got := status(sync(r1, r2)); got != "run-001=accepted,run-002=accepted" {
		t.Fatal(got)
	}
	if got := status(sync(r1)); got != "run-001=duplicate" {
		t.Fatal(got)
	}
	other := registrytest.WriteRun(t, filepath.Join(sidecar, "again"), "run-001", `{"ok":false}`)
	if resp := sync(other); resp.Rejected != 1 || !strings.Contains(resp.Items[0].Reason, "different result") {
		t.Fatalf("%+v", resp)
	}
	outside := registrytest.WriteRun(t, filepath.Join(dir, "elsewhere"), "run-x", `{}`)
	big := registrytest.WriteRun(t, sidecar, "run-big", `"`+strings.Repeat("a", registry.MaxRunResultBytes)+`"`)
	notJSON := registrytest.WriteRun(t, sidecar, "run-nj", `{`)
	wrong := r2
	wrong.RunID, wrong.ResultDigest = "run-wrong", registrytest.WriteRunDigest("other")
	linkDir := filepath.Join(sidecar, "tools", "link")
	os.MkdirAll(filepath.Dir(linkDir), 0o755)
	os.Symlink(filepath.Dir(r1.ResultPath), linkDir)
	link := protocol.RunItem{RunID: "run-link", ResultPath: filepath.Join(linkDir, "result.json"), ResultDigest: r1.ResultDigest}
	badID := r2
	badID.RunID = "a/b"
	if resp := sync(outside, big, notJSON, wrong, link, badID); resp.Rejected != 6 || resp.Accepted != 0 {
		t.Fatalf("hostile runs: %+v", resp)
	}
	// A label merge makes a new manifest; the runs go with it.
	e.mustPush(t, p, "extra")
	path, _ := e.cfg.Repository(target)
	repo := e.reg.c.repository(path)
	f, err := e.reg.lookup(ctxT(t), repo, "v1")
	if err != nil || !slices.Contains(f.rel.Labels, "extra") {
		t.Fatalf("merged release %+v %v", f, err)
	}
	if got := referrers(t, e, repo, f); len(got) != 2 {
		t.Fatalf("the merged manifest has %d run referrers, want 2", len(got))
	}
	if got := status(sync(r1, r2)); got != "run-001=duplicate,run-002=duplicate" {
		t.Fatal(got)
	}
	q := registrytest.MakePack(t, dir, "q.epack", "runs-unknown")
	_, err = e.reg.RunsSync(ctxT(t), &protocol.RunsSyncRequest{Target: target, FileDigest: q.FileDigest, PackPath: q.Path, Runs: []protocol.RunItem{r1}})
	wantCode(t, err, protocol.CodeNotFound, "push it before")
}

// TestConcurrentRuns: pushes of different packs syncing runs at once, and
// runs synced at once for one release, all end up listed (the tag schema
// index is one tag that concurrent writers replace).
func TestConcurrentRuns(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	p := registrytest.MakePack(t, dir, "p.epack", "conc-runs")
	e.mustPush(t, p, "v1")
	sidecar := strings.TrimSuffix(p.Path, ".epack") + ".runs"
	const n = 6
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		run := registrytest.WriteRun(t, sidecar, fmt.Sprintf("run-%d", i), fmt.Sprintf(`{"i":%d}`, i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.reg.RunsSync(ctxT(t), &protocol.RunsSyncRequest{Target: target, FileDigest: p.FileDigest, PackPath: p.Path, Runs: []protocol.RunItem{run}})
			if err != nil || resp.Accepted != 1 {
				t.Errorf("sync %s: %+v %v", run.RunID, resp, err)
			}
		}()
	}
	wg.Wait()
	path, _ := e.cfg.Repository(target)
	repo := e.reg.c.repository(path)
	f, _ := e.reg.lookup(ctxT(t), repo, "v1")
	runs, err := e.reg.runsOf(ctxT(t), repo, p.FileHex)
	if err != nil || len(runs) != n {
		t.Fatalf("%d runs stored, want %d (%v)", len(runs), n, err)
	}
	if got := referrers(t, e, repo, f); len(got) != n {
		t.Fatalf("%d run referrers listed, want %d", len(got), n)
	}
}

// referrers lists the run results that refer to f's manifest.
func referrers(t *testing.T, e *env, repo *remote.Repository, f *found) []string {
	t.Helper()
	var out []string
	err := e.reg.c.repository(repo.Reference.Repository).Referrers(ctxT(t), f.desc, RunArtifactType, func(refs []ocispec.Descriptor) error {
		for _, d := range refs {
			out = append(out, d.Annotations[AnnotationRunID])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFreshSamePack: 8 pushes of one pack the stream does not have yet, at
// once. Without compare-and-swap they settle on one release through the
// candidate tags almost always (not always: see the package comment); every
// answer is a release of the pack, and afterwards every push returns the
// one the pack tag names.
func TestFreshSamePack(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "fresh-same")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, fin, err := e.push(t, target, p, protocol.ReleaseInfo{Labels: []string{"v1", fmt.Sprint("l", i)}})
			if err != nil {
				t.Errorf("push %d: %v", i, err)
				return
			}
			ids[i] = fin.Release.ReleaseID
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d release(s) from 8 concurrent pushes of one pack", len(uniq(ids)))
	for _, id := range uniq(ids) {
		if pp, data, err := e.pull(t, target, protocol.PullRef{ReleaseID: id}); err != nil || !bytes.Equal(data, p.Data) {
			t.Fatalf("release %s: %v %+v", id, err, pp)
		}
	}
	fin := e.mustPush(t, p)
	if !slices.Contains(ids, fin.Release.ReleaseID) {
		t.Fatalf("a later push returned %s, not one of %v", fin.Release.ReleaseID, uniq(ids))
	}
	if again := e.mustPush(t, p, "later"); again.Release.ReleaseID != fin.Release.ReleaseID {
		t.Fatalf("later pushes disagree: %s, %s", fin.Release.ReleaseID, again.Release.ReleaseID)
	}
	if pp, _, err := e.pull(t, target, protocol.PullRef{Digest: p.FileDigest}); err != nil || pp.Pack.ReleaseID != fin.Release.ReleaseID {
		t.Fatalf("pull by digest: %+v %v", pp, err)
	}
}

// TestConcurrentVersion: 8 pushes of 8 packs with one version at once: the
// others are refused with conflict, naming the winner; the version tag
// names a pack whose push succeeded. (Without compare-and-swap more than
// one push can succeed in a tight race — see the package comment — and the
// test then checks that the tag names one of them.)
func TestConcurrentVersion(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	const n = 8
	packs := make([]registrytest.Pack, n)
	for i := range packs {
		packs[i] = registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), fmt.Sprint("cv", i))
	}
	won := make([]bool, n)
	var wg sync.WaitGroup
	for i := range packs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.push(t, target, packs[i], protocol.ReleaseInfo{Labels: []string{"v9.9.9"}})
			switch {
			case err == nil:
				won[i] = true
			case registry.CodeOf(err) != protocol.CodeConflict:
				t.Errorf("push %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	winners := 0
	for _, w := range won {
		if w {
			winners++
		}
	}
	t.Logf("%d of %d pushes won version v9.9.9", winners, n)
	pp, data, err := e.pull(t, target, protocol.PullRef{Version: "v9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(packs, func(p registrytest.Pack) bool { return p.FileDigest == pp.Pack.Digest })
	if winners == 0 || i < 0 || !won[i] || !bytes.Equal(data, packs[i].Data) {
		t.Fatalf("version v9.9.9 names pack %d (won: %v)", i, won)
	}
}

// TestHostileNames: every name that becomes part of a repository, a tag or
// an annotation is checked; refusals are invalid_request and write nothing.
func TestHostileNames(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), func(c *Config, _ *Options) { c.Namespace += "/{workspace}" })
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "hostile")
	for _, c := range []struct {
		name string
		tgt  protocol.TargetConfig
		ri   protocol.ReleaseInfo
	}{
		{"stream ..", protocol.TargetConfig{Stream: "a/../b"}, protocol.ReleaseInfo{}},
		{"stream space", protocol.TargetConfig{Stream: "a b"}, protocol.ReleaseInfo{}},
		{"no stream", protocol.TargetConfig{}, protocol.ReleaseInfo{}},
		{"workspace slash", protocol.TargetConfig{Workspace: "a/b", Stream: "s"}, protocol.ReleaseInfo{}},
		{"workspace not a component", protocol.TargetConfig{Workspace: "Ä", Stream: "s"}, protocol.ReleaseInfo{}},
		{"environment control", protocol.TargetConfig{Environment: "a\x01", Stream: "s"}, protocol.ReleaseInfo{}},
		{"label slash", target, protocol.ReleaseInfo{Labels: []string{"a/b"}}},
		{"label control", target, protocol.ReleaseInfo{Labels: []string{"a\nb"}}},
		{"version no tag", target, protocol.ReleaseInfo{Labels: []string{"version:a b"}}},
		{"too many labels", target, protocol.ReleaseInfo{Labels: func() (l []string) {
			for i := 0; i < 101; i++ {
				l = append(l, fmt.Sprint("l", i))
			}
			return
		}()}},
		{"long notes", target, protocol.ReleaseInfo{Notes: strings.Repeat("n", 65<<10)}},
	} {
		_, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: c.tgt, Pack: p.Info(), Release: c.ri})
		if registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", c.name, err)
		}
	}
	for _, ref := range []protocol.PullRef{{ReleaseID: "rel_x"}, {Digest: "sha256:00"}, {Version: "a/b"}, {Version: "latest"}, {Latest: true, Version: "v1"}} {
		if _, err := e.reg.PullPrepare(ctxT(t), &protocol.PullPrepareRequest{Target: target, Ref: ref}); registry.CodeOf(err) != protocol.CodeInvalidRequest {
			t.Errorf("pull %+v: %v, want invalid_request", ref, err)
		}
	}
	bad := p.Info()
	bad.FileDigest = "sha256:" + strings.Repeat("A", 64)
	if _, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: bad}); registry.CodeOf(err) != protocol.CodeInvalidRequest {
		t.Errorf("upper-case digest: %v", err)
	}
	if _, err := e.reg.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Target: target, FinalizeToken: "oci1.bm90IGpzb24"}); registry.CodeOf(err) != protocol.CodeInvalidRequest {
		t.Errorf("forged token: %v", err)
	}
	var repos []string
	e.reg.c.registryClient().Repositories(ctxT(t), "", func(rs []string) error {
		for _, r := range rs {
			if strings.HasPrefix(r, e.ns+"/") {
				repos = append(repos, r)
			}
		}
		return nil
	})
	if len(repos) != 0 {
		t.Fatalf("refused requests made repositories %v", repos)
	}
}
