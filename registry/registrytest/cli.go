package registrytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidencerelay/epack/registry"
)

// CLI runs the real epack binary in a project folder. The adapters must be
// built next to it (bundled discovery).
type CLI struct {
	Bin string   // path to epack
	Dir string   // project root (holds epack.yaml)
	Env []string // complete environment
}

// CLIResult is one epack invocation.
type CLIResult struct {
	JSON   map[string]any
	Stdout string
	Stderr string
	Code   int
}

// Run runs epack with args (and --json) and decodes its JSON answer.
func (c *CLI) Run(t testing.TB, args ...string) CLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, append(args, "--json")...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := CLIResult{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("epack %v: %v", args, err)
	}
	_ = json.Unmarshal(out.Bytes(), &r.JSON)
	return r
}

// MustRun is Run that fails the test on a non-zero exit.
func (c *CLI) MustRun(t testing.TB, args ...string) CLIResult {
	t.Helper()
	r := c.Run(t, args...)
	if r.Code != 0 {
		t.Fatalf("epack %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

func (r CLIResult) str(k string) string { s, _ := r.JSON[k].(string); return s }

// BuildPack builds a real pack with `epack build` and returns its path.
func (c *CLI) BuildPack(t testing.TB, name, content string) string {
	t.Helper()
	src := filepath.Join(c.Dir, name+".json")
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(c.Dir, "packs", name+".epack")
	os.MkdirAll(filepath.Dir(out), 0o755)
	c.MustRun(t, "build", out, src, "--stream", "acme/prod")
	return out
}

func fileDigest(t testing.TB, p string) (string, []byte) {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:]), data
}

// CLIFlow is the round trip through the real CLI and the real adapter:
// push, push again (skip, same release, labels merged), run sync, pull by
// latest / release id / version / digest with identical bytes, whoami.
// scope is the escaped "<ws>/<env>" of the remote's target, for inspection.
func CLIFlow(t *testing.T, c *CLI, remoteName string, store registry.Store, scope string) {
	ctx := ctxT(t)
	a := c.BuildPack(t, "a", `{"pack":"a"}`)
	WriteRun(t, strings.TrimSuffix(a, ".epack")+".runs", "run-001", `{"result":"pass"}`)
	r := c.MustRun(t, "push", remoteName, a, "--label", "v1.0.0")
	relA := r.str("release_id")
	if !registry.ValidReleaseID(relA) || r.JSON["upload_skipped"] == true || r.str("receipt_path") == "" {
		t.Fatalf("first push: %s", r.Stdout)
	}
	if runs, _ := r.JSON["synced_runs"].([]any); len(runs) != 1 {
		t.Fatalf("runs not synced: %s", r.Stdout)
	}
	r = c.MustRun(t, "push", remoteName, a, "--label", "extra")
	if r.str("release_id") != relA || r.JSON["upload_skipped"] != true {
		t.Fatalf("second push: %s", r.Stdout)
	}
	b := c.BuildPack(t, "b", `{"pack":"b"}`)
	relB := c.MustRun(t, "push", remoteName, b, "--label", "v1.1.0").str("release_id")

	digA, dataA := fileDigest(t, a)
	_, dataB := fileDigest(t, b)
	for _, pc := range []struct {
		args []string
		rel  string
		data []byte
	}{
		{nil, relB, dataB},
		{[]string{"--release", relA}, relA, dataA},
		{[]string{"--version", "v1.0.0"}, relA, dataA},
		{[]string{"--digest", digA}, relA, dataA},
	} {
		out := filepath.Join(c.Dir, "pulled.epack")
		r := c.MustRun(t, append([]string{"pull", remoteName, "-o", out, "--force"}, pc.args...)...)
		got, _ := os.ReadFile(out)
		if r.str("release_id") != pc.rel || !bytes.Equal(got, pc.data) || r.JSON["verified"] != true {
			t.Fatalf("pull %v: %s", pc.args, r.Stdout)
		}
	}
	if data, _, err := store.Get(ctx, "runs/"+strings.TrimPrefix(digA, "sha256:")+"/run-001/result.json", 1<<20); err != nil || string(data) != `{"result":"pass"}` {
		t.Fatalf("run result in the registry: %q %v", data, err)
	}
	// The release's record is never edited: the second push appended one.
	var rel registry.Release
	dir := "releases/" + scope + "/" + registry.EscapeName("acme/prod") + "/"
	data, _, err := store.Get(ctx, dir+relA+".json", 1<<20)
	if err != nil || json.Unmarshal(data, &rel) != nil || !slices.Equal(rel.Labels, []string{"v1.0.0"}) || rel.Seq != 1 {
		t.Fatalf("release record %s: %v", data, err)
	}
	data, _, err = store.Get(ctx, dir+relA+"/2.json", 1<<20)
	if err != nil || json.Unmarshal(data, &rel) != nil || !slices.Equal(rel.Labels, []string{"v1.0.0", "extra"}) || rel.Kind != registry.RecordUpdate {
		t.Fatalf("record of the second push %s: %v", data, err)
	}
	c.MustRun(t, "remote", "whoami", remoteName)
}

// CLIConcurrent: n epack processes push n different packs into one stream
// at once, then n/2 push the same pack at once.
func CLIConcurrent(t *testing.T, c *CLI, remoteName string, store registry.Store, scope string, n int) {
	ctx := ctxT(t)
	packs := make([]string, n)
	for i := range packs {
		packs[i] = c.BuildPack(t, fmt.Sprintf("c%02d", i), fmt.Sprintf(`{"concurrent":%d}`, i))
	}
	before := len(logChain(t, c, remoteName))
	results := make([]CLIResult, n)
	var wg sync.WaitGroup
	for i := range packs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = c.Run(t, "push", remoteName, packs[i])
		}(i)
	}
	wg.Wait()
	var ids, receipts []string
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("push %d: exit %d: %s %s", i, r.Code, r.Stdout, r.Stderr)
		}
		ids = append(ids, r.str("release_id"))
		receipts = append(receipts, r.str("receipt_path"))
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	receipts = slices.Compact(slices.Sorted(slices.Values(receipts)))
	if len(ids) != n || len(receipts) != n {
		t.Fatalf("%d releases and %d receipts, want %d", len(ids), len(receipts), n)
	}
	for _, p := range receipts {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("receipt: %v", err)
		}
	}
	// Every release is listed by `epack releases` (the listing replaced index.json).
	listed := c.MustRun(t, "releases", remoteName, "--stream", "acme/prod", "--limit", "1000")
	var got []string
	rels, _ := listed.JSON["releases"].([]any)
	for _, e := range rels {
		m, _ := e.(map[string]any)
		id, _ := m["release_id"].(string)
		got = append(got, id)
	}
	for _, id := range ids {
		if !slices.Contains(got, id) {
			t.Fatalf("release %s missing from epack releases %v", id, got)
		}
	}
	r := c.MustRun(t, "pull", remoteName, "-o", filepath.Join(c.Dir, "latest.epack"), "--force")
	if r.str("release_id") != slices.Max(got) || !slices.Contains(ids, r.str("release_id")) {
		t.Fatalf("latest %s, want the newest of %v", r.str("release_id"), ids)
	}

	// The same pack from n/2 processes: one blob, one release, no error.
	same := c.BuildPack(t, "same", `{"same":true}`)
	m := n / 2
	results = make([]CLIResult, m)
	for i := 0; i < m; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = c.Run(t, "push", remoteName, same)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 || r.str("release_id") != results[0].str("release_id") {
			t.Fatalf("same-pack push %d: exit %d: %s %s", i, r.Code, r.Stdout, r.Stderr)
		}
	}
	dig, _ := fileDigest(t, same)
	blobs, _ := store.List(ctx, "blobs/", 0)
	count := 0
	for _, b := range blobs {
		if strings.HasSuffix(b.Key, strings.TrimPrefix(dig, "sha256:")) {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d blobs for the same pack", count)
	}
	// All of it is one chain: n releases, then the same pack's release and
	// a record for each of its other pushes.
	chain := logChain(t, c, remoteName)
	if len(chain) != before+n+m {
		t.Fatalf("log verify after %d+%d concurrent pushes: %d records, want %d", n, m, len(chain), before+n+m)
	}
}

// logChain runs `epack log verify` on stream acme/prod, fails unless it is
// clean, and returns the chain.
func logChain(t testing.TB, c *CLI, remoteName string) []registry.ChainEntry {
	t.Helper()
	v := c.MustRun(t, "log", "verify", remoteName, "--stream", "acme/prod")
	var rep struct {
		OK      bool `json:"ok"`
		Streams []struct {
			Chain []registry.ChainEntry `json:"chain"`
		} `json:"streams"`
	}
	if json.Unmarshal([]byte(v.Stdout), &rep) != nil || !rep.OK || len(rep.Streams) != 1 {
		t.Fatalf("log verify: %s", v.Stdout)
	}
	for i, e := range rep.Streams[0].Chain {
		if e.Seq != int64(i+1) {
			t.Fatalf("chain[%d] has seq %d", i, e.Seq)
		}
	}
	return rep.Streams[0].Chain
}
