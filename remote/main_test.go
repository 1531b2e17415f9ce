package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/testkit"
)

// sdkAdapterPath is the SDK test adapter built once for the package.
var sdkAdapterPath string

func TestMain(m *testing.M) {
	dir, err := testkit.Build("epack-remote-sdk=./internal/testadapters/sdkadapter")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building test adapter:", err)
		os.Exit(1)
	}
	sdkAdapterPath = filepath.Join(dir, "epack-remote-sdk")
	// Tests make many calls; keep the limiter out of their way.
	callPace.rate, callPace.burst = 1e6, 1e6
	os.Exit(testkit.Main(m))
}

// project is a temp project root with a lockfile.
type project struct {
	t    testing.TB
	root string
	lock *config.LockFile
}

func newProject(t *testing.T) *project {
	t.Helper()
	root := t.TempDir()
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	return &project{t: t, root: root, lock: newLock()}
}

func newLock() *config.LockFile {
	return &config.LockFile{SchemaVersion: 1, Remotes: map[string]*config.LockedRemote{}}
}

// pin records the digest of path for remote name.
func (p *project) pin(name, path string) string {
	d := fileDigest(p.t, path)
	p.pinDigest(name, d)
	return d
}

func (p *project) pinDigest(name, d string) {
	p.lock.Remotes[name] = &config.LockedRemote{Kind: config.KindExternal, Platforms: map[string]config.LockedPlatform{config.PlatformKey(): {Digest: d}}}
}

func fileDigest(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// copyAdapter copies the SDK adapter into dir under name.
func copyAdapter(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(sdkAdapterPath)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// capsJSON is a valid capabilities answer for script adapters.
const capsJSON = `{"name":"script","kind":"remote_adapter","deploy_protocol_version":1,"features":{"prepare_finalize":true,"pull":true,"runs_sync":true,"whoami":true},"limits":{"max_pack_bytes":0,"max_runs_per_sync":0}}`

// scriptAdapter writes a shell adapter. body handles commands other than
// --capabilities; $REQ holds the request and $ID its request_id; the script
// records its pid (= its process group) in ./adapter.pid of the CWD.
func scriptAdapter(t *testing.T, dir, name, body string) string {
	t.Helper()
	src := `#!/bin/sh
echo $$ > adapter.pid
if [ "$1" = "--capabilities" ]; then
  printf '%s' '` + capsJSON + `'
  exit 0
fi
REQ=$(cat)
ID=$(printf '%s' "$REQ" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
` + body + "\n"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *project) remote(name, binary string) *config.Remote {
	return &config.Remote{Name: name, Binary: binary}
}

func (p *project) open(r *config.Remote, pol Policy) (*Session, error) {
	return Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Policy: pol, Stderr: &syncBuffer{}})
}

// groupGone waits until the adapter's recorded process group has no members.
func (p *project) groupGone(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.root, "adapter.pid"))
	if err != nil {
		t.Fatalf("adapter did not record its pid: %v", err)
	}
	var pgid int
	fmt.Sscan(strings.TrimSpace(string(b)), &pgid)
	if pgid <= 1 {
		t.Fatalf("bad pid %q", b)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		alive := liveGroupMembers(pgid)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has live members %v", pgid, alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveGroupMembers lists processes of group pgid that are not zombies
// (a killed orphan stays a zombie until PID 1 reaps it; it runs nothing).
func liveGroupMembers(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if f[2] == fmt.Sprint(pgid) {
			out = append(out, e.Name()+":"+s[:i+1])
		}
	}
	return out
}
