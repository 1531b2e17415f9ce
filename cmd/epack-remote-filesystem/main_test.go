package main_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/testkit"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry/fsstore"
	"github.com/evidencerelay/epack/registry/registrytest"
)

var bin, epackBin string

func TestMain(m *testing.M) {
	var err error
	bin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack-remote-filesystem")
	if err == nil {
		// epack itself, beside the adapter (bundled discovery), for the CLI tests.
		epackBin, err = registrytest.BuildAdapter("github.com/evidencerelay/epack/cmd/epack")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		testkit.Cleanup()
		os.Exit(1)
	}
	os.Exit(testkit.Main(m))
}

func newEnv(t *testing.T) *registrytest.Env {
	top := t.TempDir()
	root := filepath.Join(top, "registry")
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return &registrytest.Env{
		A:        &registrytest.Process{Bin: bin, Env: registrytest.HostEnv("EPACK_REMOTE_FILE_ROOT="+root, "EPACK_REMOTE_CONFIG={}"), Dir: top},
		Store:    store,
		FileRoot: root,
		ForceUpload: func(t testing.TB, tgt protocol.TransferTarget, data []byte) {
			u, _ := url.Parse(tgt.URL)
			if err := os.WriteFile(u.Path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		AllKeys: func(t testing.TB) []string {
			var keys []string
			filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(top, p)
					keys = append(keys, filepath.ToSlash(rel))
				}
				return nil
			})
			return keys
		},
		Prefix:    "registry/",
		Overwrite: registrytest.DirTamper(root).Overwrite,
		Remove:    registrytest.DirTamper(root).Remove,
	}
}

// TestAdapterProcess runs the whole registry suite through the real binary.
func TestAdapterProcess(t *testing.T) { registrytest.RunAll(t, newEnv) }

func TestCapabilities(t *testing.T) {
	p := &registrytest.Process{Bin: bin, Env: registrytest.HostEnv()}
	caps, err := p.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := caps.Features
	// no_file_checksum: the store checks the SHA-256 of what arrived and
	// never uses the file's MD5, so the host skips that pass.
	if caps.Name != "filesystem" || caps.DeployProtocolVersion != 1 || !f.PrepareFinalize || !f.Pull || !f.RunsSync || !f.Whoami || caps.Limits.MaxRunsPerSync == 0 || !f.NoFileChecksum {
		t.Fatalf("capabilities %+v", caps)
	}
}

func TestMissingFileRoot(t *testing.T) {
	p := &registrytest.Process{Bin: bin, Env: registrytest.HostEnv("EPACK_REMOTE_CONFIG={}"), Dir: t.TempDir()}
	_, err := p.PushPrepare(context.Background(), &protocol.PushPrepareRequest{Target: protocol.TargetConfig{Stream: "s"}})
	if registrytest.Code(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), "transport.file_root") {
		t.Fatalf("missing root: %v", err)
	}
	p.Env = registrytest.HostEnv("EPACK_REMOTE_FILE_ROOT=relative/dir")
	_, err = p.Whoami(context.Background())
	if registrytest.Code(err) != protocol.CodeInvalidRequest {
		t.Fatalf("relative root: %v", err)
	}
}

func TestGarbageRequests(t *testing.T) {
	root := t.TempDir()
	p := &registrytest.Process{Bin: bin, Env: registrytest.HostEnv("EPACK_REMOTE_FILE_ROOT=" + root)}
	var out map[string]any
	for _, body := range []string{`not json`, `{"type":"push.prepare","protocol_version":2,"request_id":"x"}`, `{"type":"push.prepare","protocol_version":1,"request_id":"x","target":{"stream":"a\u0000b"}}`} {
		err := p.Raw(context.Background(), protocol.CmdPushPrepare, []byte(body), "", &out)
		if c := registrytest.Code(err); c != protocol.CodeInvalidRequest && c != protocol.CodeUnsupportedProtocol {
			t.Fatalf("%s: %v", body, err)
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		names := []string{}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if strings.Join(names, ",") != "" && strings.Join(names, ",") != "staging" {
			t.Fatalf("garbage requests wrote %v", names)
		}
	}
}

// upstreamHostEnv is what the existing epack tool gives an adapter: its
// allowlisted environment, the protocol version and the remote's secrets:
// (COMPAT §4.4, §10.2) — no EPACK_REMOTE_FILE_ROOT, no EPACK_REMOTE_NAME.
func upstreamHostEnv(secrets ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "EPACK_REMOTE_PROTOCOL_VERSION=1"}, secrets...)
}

// TestRegistryRootFromSecret: under a host that sends only FS_REGISTRY_ROOT
// the adapter serves that directory; EPACK_REMOTE_FILE_ROOT wins when both
// are set; a relative FS_REGISTRY_ROOT is a clear invalid_request.
func TestRegistryRootFromSecret(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, tc := range []struct {
		name   string
		env    []string
		issuer string // whoami issuer = the registry directory
		code   string
	}{
		{"FS_REGISTRY_ROOT only", upstreamHostEnv("FS_REGISTRY_ROOT=" + a), a, ""},
		{"both: EPACK_REMOTE_FILE_ROOT wins", upstreamHostEnv("EPACK_REMOTE_FILE_ROOT="+b, "FS_REGISTRY_ROOT="+a), b, ""},
		{"empty EPACK_REMOTE_FILE_ROOT", upstreamHostEnv("EPACK_REMOTE_FILE_ROOT=", "FS_REGISTRY_ROOT="+a), a, ""},
		{"relative FS_REGISTRY_ROOT", upstreamHostEnv("FS_REGISTRY_ROOT=reg"), "", protocol.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &registrytest.Process{Bin: bin, Env: tc.env, Dir: t.TempDir()}
			id, err := p.Whoami(context.Background())
			if tc.code != "" {
				if registrytest.Code(err) != tc.code || !strings.Contains(err.Error(), "FS_REGISTRY_ROOT") {
					t.Fatalf("want %s naming FS_REGISTRY_ROOT, got %v", tc.code, err)
				}
				return
			}
			if err != nil || !strings.Contains(id.Issuer, tc.issuer) {
				t.Fatalf("whoami %+v, %v (want issuer %s)", id, err, tc.issuer)
			}
		})
	}
}
