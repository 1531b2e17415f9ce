package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
)

// upstreamProj makes a project whose epack.yaml is exactly yaml (remotes
// written the way the existing tool's example configuration writes them),
// with a pack at dist/acme.epack, and pins remote with `epack lock`.
func upstreamProj(t *testing.T, yaml, remote string, env []string) (*proj, string) {
	t.Helper()
	bin := e2e.BinDir(t, binDir)
	p := &proj{root: e2e.Project(t, bin, yaml), bin: bin, env: env}
	pk := filepath.Join(p.root, "dist", "acme.epack")
	e2e.WritePack(t, pk, "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	if out, errOut, code := p.run(t, "lock", remote); code != 0 {
		t.Fatalf("epack lock %s: exit %d\n%s%s", remote, code, out, errOut)
	}
	return p, pk
}

// pushPull pushes dist/acme.epack to remote, pulls it back and checks the
// bytes; it returns the push result.
func pushPull(t *testing.T, p *proj, pk, remote string) map[string]any {
	t.Helper()
	res := p.runJSON(t, "push", remote, "dist/acme.epack", "--frozen")
	if res["pushed"] != true {
		t.Fatalf("push: %v", res)
	}
	p.runJSON(t, "pull", remote, "--frozen", "-o", "back.epack")
	want, _ := os.ReadFile(pk)
	got, err := os.ReadFile(filepath.Join(p.root, "back.epack"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("pulled pack differs from the pushed one (%v)", err)
	}
	return res
}

// TestUpstreamExampleFilesystemRemote: `adapter: filesystem` with
// `target: {dir: ./published}` and no other setting pushes into ./published
// (relative to the project root, also when epack runs in a subfolder) and
// pulls back.
func TestUpstreamExampleFilesystemRemote(t *testing.T) {
	p, pk := upstreamProj(t, "remotes:\n  published:\n    adapter: filesystem\n    target:\n      dir: ./published\n", "published", nil)
	pushPull(t, p, pk, "published")
	hex := strings.TrimPrefix(e2e.FileSHA256(t, pk), "sha256:")
	blob := filepath.Join(p.root, "published", "blobs", "sha256", hex)
	if got, err := os.ReadFile(blob); err != nil {
		t.Fatalf("pack not in ./published: %v", err)
	} else if want, _ := os.ReadFile(pk); !bytes.Equal(got, want) {
		t.Fatal("blob in ./published differs from the pack")
	}

	// From a subfolder, ./published still means <project root>/published.
	sub := filepath.Join(p.root, "dist")
	sp := &proj{root: sub, bin: p.bin}
	res := sp.runJSON(t, "push", "published", "acme.epack", "--frozen")
	if res["upload_skipped"] != true {
		t.Errorf("push from a subfolder did not find the blob in the same registry: %v", res)
	}
	if _, err := os.Lstat(filepath.Join(sub, "published")); err == nil {
		t.Error("push from a subfolder created ./published below the current folder")
	}
}

// TestTargetDirFollowsFileRootRules: target.dir is the remote's file_root,
// so a registry folder reached through a symbolic link below the project
// root is treated exactly as with transport.file_root (same exit status,
// same writes through the link).
func TestTargetDirFollowsFileRootRules(t *testing.T) {
	type outcome struct {
		code    int
		written int
	}
	try := func(t *testing.T, remoteYAML string) outcome {
		p, _ := upstreamProj(t, "remotes:\n  published:\n    adapter: filesystem\n"+remoteYAML, "published", nil)
		elsewhere := t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(p.root, "link")); err != nil {
			t.Fatal(err)
		}
		_, _, code := p.run(t, "push", "published", "dist/acme.epack", "--frozen")
		entries, _ := os.ReadDir(elsewhere)
		return outcome{code, len(entries)}
	}
	viaDir := try(t, "    target: {dir: ./link/published}\n")
	viaFileRoot := try(t, "    transport: {file_root: ./link/published}\n")
	if viaDir != viaFileRoot {
		t.Fatalf("target.dir gave %+v, transport.file_root gave %+v", viaDir, viaFileRoot)
	}
	t.Logf("through a symlinked folder: exit %d, %d entries written through the link", viaDir.code, viaDir.written)
}

// TestUpstreamExampleS3Remote: `adapter: s3` with `target: {bucket: …}`
// reaches the S3 adapter as its bucket. The local S3 server needs an
// endpoint and path-style addressing, which stay under extensions.
func TestUpstreamExampleS3Remote(t *testing.T) {
	s := testenv.RequireS3(t)
	bucket := s.NewBucket(t)
	yaml := fmt.Sprintf("remotes:\n  evidence:\n    adapter: s3\n    target: {bucket: %s}\n    transport: {allow_loopback_http: true}\n    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    extensions: {endpoint: %s, path_style: true, region: us-east-1}\n", bucket, s.Endpoint)
	env := []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
	p, pk := upstreamProj(t, yaml, "evidence", env)
	pushPull(t, p, pk, "evidence")
	who := p.runJSON(t, "remote", "whoami", "evidence")
	if !strings.Contains(fmt.Sprint(who), bucket) {
		t.Errorf("whoami does not name bucket %s: %v", bucket, who)
	}
}

// TestUpstreamExampleConfigLoadsAsWritten: the existing tool's example
// remotes, as written (no endpoint), load and are listed.
func TestUpstreamExampleConfigLoadsAsWritten(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	p := &proj{root: e2e.Project(t, bin, "remotes:\n  published:\n    adapter: filesystem\n    target: {dir: ./published}\n  evidence:\n    adapter: s3\n    target: {bucket: my-evidence-bucket}\n"), bin: bin}
	out, errOut, code := p.run(t, "remote", "list", "--json")
	if code != 0 || !strings.Contains(out, "published") || !strings.Contains(out, "evidence") {
		t.Fatalf("remote list: exit %d\n%s%s", code, out, errOut)
	}
}
