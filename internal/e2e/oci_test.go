package e2e_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/internal/testkit"
)

// ociProj is a project whose remote "oci" is a namespace of its own on the
// OCI test registry (distribution 2.8 with TLS and htpasswd), reached by
// the bundled epack-remote-oci with the registry user in secrets:.
type ociProj struct {
	root, bin, ns string
	srv           testenv.OCI
	env           []string
}

func newOCIProj(t *testing.T) *ociProj {
	t.Helper()
	return newOCIProjOn(t, testenv.RequireOCI(t))
}

func newOCIProjOn(t *testing.T, srv testenv.OCI) *ociProj {
	t.Helper()
	bin := e2e.BinDir(t, binDir)
	p := &ociProj{root: e2e.Project(t, bin, ""), bin: bin, ns: testenv.OCINamespace(t), srv: srv,
		env: []string{"OCI_USERNAME=" + srv.Username, "OCI_PASSWORD=" + srv.Password, "HOME=" + t.TempDir()}}
	y := fmt.Sprintf(`stream: acme/prod
remotes:
  oci:
    adapter: oci
    target: {workspace: acme, environment: prod}
    transport:
      file_root: .epack/oci
    secrets: [OCI_USERNAME, OCI_PASSWORD]
    extensions:
      registry: %s
      namespace: %s
      ca_file: %s
`, srv.Host, p.ns, srv.CAFile)
	if err := os.WriteFile(filepath.Join(p.root, "epack.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := p.run(t, "lock", "oci"); code != 0 {
		t.Fatalf("epack lock: %s %s", out, errOut)
	}
	return p
}

func (p *ociProj) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testkit.Run(t, filepath.Join(p.bin, "epack"), p.root, append([]string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI="}, p.env...), args...)
}

func (p *ociProj) runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := p.run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("epack %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("epack %v: not JSON: %v\n%s", args, err, out)
	}
	return m
}

func (p *ociProj) pack(t *testing.T, name, seed string) string {
	t.Helper()
	pk := filepath.Join(p.root, "dist", name)
	e2e.WritePack(t, pk, "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"seed":"` + seed + `"}`)})
	return pk
}

// TestOCIRoundTripThroughCLI: epack push oci p.epack --label v1.0.0 (its
// run result synced as a referrer), then epack pull oci --version v1.0.0
// (and by release id, digest, latest) give the same bytes; pushing again
// gives the same release; whoami shows the registry and the user.
func TestOCIRoundTripThroughCLI(t *testing.T) {
	p := newOCIProj(t)
	pk := p.pack(t, "p.epack", "roundtrip")
	run := filepath.Join(p.root, "dist", "p.runs", "tools", "scan", "run-001", "result.json")
	os.MkdirAll(filepath.Dir(run), 0o755)
	os.WriteFile(run, []byte(`{"status":"ok"}`), 0o644)
	first := p.runJSON(t, "push", "oci", "dist/p.epack", "--label", "v1.0.0", "--frozen")
	relID, _ := first["release_id"].(string)
	// With the registry's private CA the adapter moves the bytes itself.
	if first["pushed"] != true || !strings.HasPrefix(relID, "rel_") || fmt.Sprint(first["synced_runs"]) != "[run-001]" || first["uploaded_by_adapter"] != true {
		t.Fatalf("push %v", first)
	}
	second := p.runJSON(t, "push", "oci", "dist/p.epack", "--label", "extra", "--frozen")
	if second["release_id"] != relID || second["upload_skipped"] != true || second["uploaded_by_adapter"] != false {
		t.Fatalf("second push %v", second)
	}
	want, _ := os.ReadFile(pk)
	digest := e2e.FileSHA256(t, pk)
	for i, ref := range [][]string{{"--version", "v1.0.0"}, {}, {relID}, {"--digest", digest}} {
		out := fmt.Sprintf("pulled-%d.epack", i)
		res := p.runJSON(t, append([]string{"pull", "oci", "-o", out, "--frozen"}, ref...)...)
		got, _ := os.ReadFile(filepath.Join(p.root, out))
		if !bytes.Equal(got, want) || res["verified"] != true || res["digest"] != digest || res["release_id"] != relID {
			t.Fatalf("pull %v: %v", ref, res)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(p.root, ".epack", "oci", "oci-downloads", "*")); len(left) != 0 {
		t.Fatalf("downloads left behind: %v", left)
	}
	out, errOut, code := p.run(t, "remote", "whoami", "oci")
	// The user name is a secret's value: epack shows it redacted.
	if code != 0 || !strings.Contains(out, "OCI_USERNAME/OCI_PASSWORD") || !strings.Contains(out, p.srv.Host+"/"+p.ns) {
		t.Fatalf("whoami: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestOCIConcurrentPushes: 16 epack processes push 16 packs into one
// stream at once: 16 releases, each pullable with its own bytes; then 8
// push one of them again: its release, no error.
func TestOCIConcurrentPushes(t *testing.T) {
	p := newOCIProj(t)
	const n = 16
	packs := make([]string, n)
	for i := range packs {
		packs[i] = p.pack(t, fmt.Sprintf("p%d.epack", i), fmt.Sprint(i))
	}
	results := make([]map[string]any, n)
	errs := make([]string, n)
	var wg sync.WaitGroup
	for i := range packs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := p.run(t, "push", "oci", packs[i], "--label", fmt.Sprintf("v1.%d.0", i), "--json", "--frozen")
			if code != 0 {
				errs[i] = errOut
				return
			}
			json.Unmarshal([]byte(out), &results[i])
		}()
	}
	wg.Wait()
	ids := map[string]int{}
	for i := range packs {
		if errs[i] != "" {
			t.Fatalf("push %d failed: %s", i, errs[i])
		}
		ids[results[i]["release_id"].(string)] = i
	}
	if len(ids) != n {
		t.Fatalf("%d distinct releases, want %d", len(ids), n)
	}
	for id, i := range ids {
		out := fmt.Sprintf("got-%d.epack", i)
		p.runJSON(t, "pull", "oci", id, "-o", out, "--frozen")
		got, _ := os.ReadFile(filepath.Join(p.root, out))
		want, _ := os.ReadFile(packs[i])
		if !bytes.Equal(got, want) {
			t.Fatalf("release %s: other bytes than pack %d", id, i)
		}
	}
	same := map[string]bool{}
	var mu sync.Mutex
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := p.run(t, "push", "oci", packs[0], "--json", "--frozen")
			mu.Lock()
			defer mu.Unlock()
			if code != 0 {
				t.Errorf("same-pack push failed: %s", errOut)
				return
			}
			var m map[string]any
			json.Unmarshal([]byte(out), &m)
			same[m["release_id"].(string)] = true
		}()
	}
	wg.Wait()
	if len(same) != 1 || !same[results[0]["release_id"].(string)] {
		t.Fatalf("same pack gave releases %v, want only %v", same, results[0]["release_id"])
	}
}

// TestOCIVersionNeverMoves: a different pack with an existing version is
// refused, naming the release that holds it; the version still pulls the
// first pack.
func TestOCIVersionNeverMoves(t *testing.T) {
	p := newOCIProj(t)
	first := p.runJSON(t, "push", "oci", p.pack(t, "a.epack", "a"), "--label", "v1.0.0", "--frozen")
	out, errOut, code := p.run(t, "push", "oci", p.pack(t, "b.epack", "b"), "--label", "v1.0.0", "--frozen")
	if code == 0 || !strings.Contains(errOut, "v1.0.0") || !strings.Contains(errOut, first["release_id"].(string)) || !strings.Contains(errOut, "already names another pack") {
		t.Fatalf("push of another pack with v1.0.0: exit %d\n%s\n%s", code, out, errOut)
	}
	res := p.runJSON(t, "pull", "oci", "--version", "v1.0.0", "-o", "v1.epack", "--frozen")
	if res["release_id"] != first["release_id"] {
		t.Fatalf("v1.0.0 moved: %v", res)
	}
}

// TestOCIWrongCredentials: a wrong password is a clear authentication
// error saying where the credentials came from (the user name is a
// secret's value, which epack redacts).
func TestOCIWrongCredentials(t *testing.T) {
	p := newOCIProj(t)
	p.env = append(p.env, "OCI_PASSWORD=wrong")
	out, errOut, code := p.run(t, "push", "oci", p.pack(t, "a.epack", "a"), "--frozen")
	if code == 0 || !strings.Contains(errOut, "refused the credentials") || !strings.Contains(errOut, "OCI_USERNAME/OCI_PASSWORD") {
		t.Fatalf("push with a wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = p.run(t, "pull", "oci", "--frozen")
	if code == 0 || !strings.Contains(errOut, "refused the credentials") {
		t.Fatalf("pull with a wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestOCIOrasInterop: a pack oras pushed with the pack's artifact type and
// annotations is pulled (and verified) by epack; what epack pushed, oras
// pulls with identical bytes.
func TestOCIOrasInterop(t *testing.T) {
	p := newOCIProj(t)
	orasBin := testenv.RequireOras(t)
	oras := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(orasBin, append(args, "--ca-file", p.srv.CAFile, "-u", p.srv.Username, "--password-stdin")...)
		cmd.Stdin = strings.NewReader(p.srv.Password)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oras %v: %v\n%s", args, err, out)
		}
	}
	repo := p.srv.Host + "/" + p.ns + "/acme/prod"
	pk := p.pack(t, "o.epack", "oras")
	oras(filepath.Dir(pk), "push", repo+":v2.0.0", "--artifact-type", "application/vnd.evidencepack.pack.v1",
		"--annotation", "org.evidencepack.stream=acme/prod", "o.epack:application/vnd.evidencepack.pack.v1+zip")
	res := p.runJSON(t, "pull", "oci", "--version", "v2.0.0", "-o", "from-oras.epack", "--frozen")
	got, _ := os.ReadFile(filepath.Join(p.root, "from-oras.epack"))
	want, _ := os.ReadFile(pk)
	if !bytes.Equal(got, want) || res["verified"] != true {
		t.Fatalf("pull of an oras push: %v", res)
	}
	mine := p.pack(t, "m.epack", "mine")
	p.runJSON(t, "push", "oci", mine, "--label", "v3.0.0", "--frozen")
	dir := t.TempDir()
	oras(dir, "pull", repo+":v3.0.0", "-o", dir)
	got, _ = os.ReadFile(filepath.Join(dir, "acme-prod.epack"))
	want, _ = os.ReadFile(mine)
	if !bytes.Equal(got, want) {
		t.Fatal("oras pulled other bytes than epack pushed")
	}
}

// TestOCICorruptBlobRefused: the host checks the digest of what the
// adapter hands it: a blob corrupted in the registry's storage is refused
// and no file is written.
func TestOCICorruptBlobRefused(t *testing.T) {
	srv := testenv.StartOCIForTest(t, testenv.OCIOptions{TLS: true, Auth: true})
	if srv == nil {
		return
	}
	p := newOCIProjOn(t, srv.OCI)
	pk := p.pack(t, "p.epack", "corrupt")
	p.runJSON(t, "push", "oci", pk, "--label", "v1", "--frozen")
	hex := strings.TrimPrefix(e2e.FileSHA256(t, pk), "sha256:")
	blob := filepath.Join(srv.Dir, "data", "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := p.run(t, "pull", "oci", "--version", "v1", "-o", "got.epack", "--frozen")
	if code == 0 || !strings.Contains(strings.ToLower(errOut), "digest") {
		t.Fatalf("pull of a corrupt blob: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(p.root, "got.epack")); !os.IsNotExist(err) {
		t.Fatal("a corrupt pack was written")
	}
}

// TestOCIReleasesThroughCLI: epack releases lists what the OCI registry
// holds, newest first, across streams (the registry's catalog) or in one,
// by label, page by page.
func TestOCIReleasesThroughCLI(t *testing.T) {
	p := newOCIProj(t)
	var ids []string
	for i, stream := range []string{"acme/prod", "acme/other", "acme/prod"} {
		pk := filepath.Join(p.root, "dist", fmt.Sprintf("r%d.epack", i))
		e2e.WritePack(t, pk, stream, e2e.File{Name: "x.json", Data: []byte(fmt.Sprint(i))})
		res := p.runJSON(t, "push", "oci", pk, "--label", fmt.Sprintf("v%d.0", i), "--label", "monthly", "--frozen")
		ids = append([]string{res["release_id"].(string)}, ids...)
	}
	list := func(args ...string) ([]string, string) {
		res := p.runJSON(t, append([]string{"releases", "oci", "--frozen"}, args...)...)
		var got []string
		for _, r := range res["releases"].([]any) {
			got = append(got, r.(map[string]any)["release_id"].(string))
		}
		next, _ := res["next_cursor"].(string)
		return got, next
	}
	if got, _ := list(); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("all streams: %v, want %v", got, ids)
	}
	if got, _ := list("--stream", "acme/other"); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("--stream acme/other: %v", got)
	}
	if got, _ := list("--label", "v2.0"); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("--label v2.0: %v", got)
	}
	var paged []string
	cursor := ""
	for i := 0; i < 5; i++ {
		args := []string{"--limit", "1"}
		if cursor != "" {
			args = append(args, "--cursor", cursor)
		}
		got, next := list(args...)
		paged = append(paged, got...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if strings.Join(paged, ",") != strings.Join(ids, ",") {
		t.Fatalf("paged %v, want %v", paged, ids)
	}
}

// TestOCISignaturesAsReferrers: a pack signed with `epack sign` and pushed
// to the OCI registry shows its signature as a referrer of the release to
// `oras discover`, and `oras pull` of that referrer gives the bundle
// exactly as stored in the pack; the pack itself still verifies after
// `epack pull`.
func TestOCISignaturesAsReferrers(t *testing.T) {
	p := newOCIProj(t)
	orasBin := testenv.RequireOras(t)
	oras := func(dir string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(orasBin, append(args, "--ca-file", p.srv.CAFile, "-u", p.srv.Username, "--password-stdin")...)
		cmd.Stdin = strings.NewReader(p.srv.Password)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("oras %v: %v\n%s", args, err, out)
		}
		return out
	}
	pk := p.pack(t, "s.epack", "signed")
	priv, pub := e2e.WriteKeyPair(t, filepath.Join(p.root, "keys"), "ci", elliptic.P256())
	if res := p.runJSON(t, "sign", pk, "--key", priv, "--no-tlog"); res["signatures"] != float64(1) {
		t.Fatalf("sign: %v", res)
	}
	p.runJSON(t, "push", "oci", pk, "--label", "v1.0.0", "--frozen")
	repo := p.srv.Host + "/" + p.ns + "/acme/prod"
	var d struct {
		Referrers []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"referrers"`
	}
	out := oras(t.TempDir(), "discover", repo+":v1.0.0", "--artifact-type", "application/vnd.evidencepack.signature.v1", "--format", "json")
	if err := json.Unmarshal(out, &d); err != nil || len(d.Referrers) != 1 {
		t.Fatalf("oras discover: %v\n%s", err, out)
	}
	entry := d.Referrers[0].Annotations["org.evidencepack.signature.entry"]
	if !strings.HasPrefix(entry, "attestations/") || !strings.HasSuffix(entry, ".sigstore.json") {
		t.Fatalf("referrer annotations %v", d.Referrers[0].Annotations)
	}
	dir := t.TempDir()
	oras(dir, "pull", repo+"@"+d.Referrers[0].Digest, "-o", dir)
	got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(entry, "attestations/")))
	if err != nil {
		t.Fatal(err)
	}
	if want := e2e.ZipEntry(t, pk, entry); !bytes.Equal(got, want) {
		t.Fatalf("the referrer's bundle (%d bytes) is not the pack's %s (%d bytes)", len(got), entry, len(want))
	}
	p.runJSON(t, "pull", "oci", "--version", "v1.0.0", "-o", "back.epack", "--frozen")
	if out, errOut, code := p.run(t, "verify", "back.epack", "--key", pub); code != 0 {
		t.Fatalf("verify of the pulled pack: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestOCIAuditorPullsByLocation: with no epack.yaml, an auditor lists and
// pulls by oci://<registry>/<namespace>, the registry user in
// OCI_USERNAME/OCI_PASSWORD and the registry's CA as ca_file; the pack is
// verified, nothing lands in the working folder but the output, and a
// location with credentials in it is refused.
func TestOCIAuditorPullsByLocation(t *testing.T) {
	p := newOCIProj(t)
	pk := p.pack(t, "a.epack", "auditor")
	if out, errOut, code := p.run(t, "push", "oci", pk, "--label", "v1.0.0", "--frozen"); code != 0 || !strings.Contains(out, "Upload:  by the adapter") {
		t.Fatalf("push: exit %d, the summary does not say the adapter uploaded:\n%s\n%s", code, out, errOut)
	}
	auditor, state, cache := t.TempDir(), t.TempDir(), t.TempDir()
	env := append([]string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "XDG_STATE_HOME=" + state, "XDG_CACHE_HOME=" + cache}, p.env...)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return testkit.Run(t, filepath.Join(p.bin, "epack"), auditor, env, args...)
	}
	loc := "oci://" + p.srv.Host + "/" + p.ns + "?ca_file=" + p.srv.CAFile + "&workspace=acme&environment=prod"
	out, errOut, code := run("releases", loc, "--stream", "acme/prod", "--json")
	wantExit(t, "releases by oci location", code, 0, out, errOut)
	var rel map[string]any
	if err := json.Unmarshal([]byte(out), &rel); err != nil {
		t.Fatal(err)
	}
	if list, _ := rel["releases"].([]any); len(list) != 1 || list[0].(map[string]any)["version"] != "v1.0.0" {
		t.Fatalf("releases by location: %v", rel)
	}
	out, errOut, code = run("pull", loc, "--stream", "acme/prod", "--version", "v1.0.0", "-o", "x.epack", "--json")
	wantExit(t, "pull by oci location", code, 0, out, errOut)
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(auditor, "x.epack"))
	want, _ := os.ReadFile(pk)
	if !bytes.Equal(got, want) || res["verified"] != true {
		t.Fatalf("pull by oci location: %v", res)
	}
	if entries, _ := os.ReadDir(auditor); len(entries) != 1 {
		t.Fatalf("the auditor's folder holds %v, want only x.epack", entries)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "epack", "oci-transfers", "*", "*")); len(left) != 0 {
		t.Fatalf("downloads left behind: %v", left)
	}
	for _, bad := range []string{"oci://user:pw@" + p.srv.Host + "/" + p.ns, "oci://registry.example.com/x?plain_http=true", "oci:///x"} {
		out, errOut, code := run("pull", bad, "--stream", "acme/prod", "-o", "y.epack")
		if code == 0 || !strings.Contains(errOut, "registry location") {
			t.Fatalf("pull %s: exit %d\n%s\n%s", bad, code, out, errOut)
		}
	}
}
