package cli_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/internal/sourceinstall/sourceinstalltest"
	"github.com/evidencerelay/epack/internal/testkit"
)

// exitCase is one real failing (or succeeding) situation and the exit status
// the README's table promises for it.
type exitCase struct {
	name   string
	status int
	// setup returns the folder to run in, the arguments (without --json) and
	// extra environment.
	setup func(t *testing.T) (dir string, args, env []string)
	code  errcode.Code // the JSON error code (none for status 0)
	text  string       // text the human error output must contain
}

// TestExitStatusesThroughTheCLI produces every row of the exit-status table
// (internal/exitstatus, printed in README.md) with the real epack binary and a
// real situation, checks the exit status, that --json reports the same
// status and a code of that row, and that every row has a case.
func TestExitStatusesThroughTheCLI(t *testing.T) {
	cases := []exitCase{
		{name: "success: verify a valid pack", status: 0, setup: func(t *testing.T) (string, []string, []string) {
			p := newProject(t, "")
			return p.root, []string{"verify", "dist/s.epack"}, nil
		}},
		{name: "config: unknown key with a suggestion", status: 1, code: errcode.ConfigInvalid, text: `did you mean "labels"?`,
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				appendYAML(t, p.root, "    release: {lables: [monthly]}\n")
				return p.root, []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned"}, nil
			}},
		{name: "config: unknown remote", status: 1, code: errcode.RemoteNotFound, text: `remote "nope" not found`,
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				return p.root, []string{"push", "nope", "dist/s.epack"}, nil
			}},
		{name: "config: no epack.yaml", status: 1, code: errcode.ProjectNotFound, text: "epack.yaml not found",
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				dir := t.TempDir()
				os.Rename(filepath.Join(p.root, "dist", "s.epack"), filepath.Join(dir, "s.epack"))
				return dir, []string{"push", "t", "s.epack"}, nil
			}},
		{name: "bad input: missing pack", status: 2, code: errcode.InvalidInput, text: "nope.epack",
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				return p.root, []string{"push", "t", "nope.epack", "--insecure-allow-unpinned"}, nil
			}},
		{name: "bad input: not a ZIP", status: 2, code: errcode.NotAZip,
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				os.WriteFile(filepath.Join(p.root, "dist", "s.epack"), []byte("not a zip"), 0o644)
				return p.root, []string{"verify", "dist/s.epack"}, nil
			}},
		{name: "lockfile: unpinned adapter", status: 10, code: errcode.LockfileInvalid, text: "epack lock t",
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				return p.root, []string{"push", "t", "dist/s.epack"}, nil
			}},
		{name: "digest: tampered pack", status: 11, code: errcode.DigestMismatch,
			setup: func(t *testing.T) (string, []string, []string) {
				p := newProject(t, "")
				tamper(t, filepath.Join(p.root, "dist", "s.epack"))
				return p.root, []string{"verify", "dist/s.epack"}, nil
			}},
		{name: "signature: unsigned source adapter", status: 12, code: errcode.SignatureInvalid, text: "Sigstore bundle",
			setup: unsignedSourceAdapter},
		{name: "timeout: adapter never answers", status: 13, code: errcode.Timeout, text: "timed out",
			setup: func(t *testing.T) (string, []string, []string) {
				bin := e2e.BinDir(t, binDir)
				script := filepath.Join(t.TempDir(), "epack-remote-sleepy")
				os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755)
				root := e2e.Project(t, bin, "stream: acme/evidence\nremotes:\n  t:\n    binary: "+script+"\n    timeout: 1s\n")
				e2e.WritePack(t, filepath.Join(root, "s.epack"), "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{}`)})
				return root, []string{"push", "t", "s.epack", "--insecure-allow-unpinned"}, nil
			}},
		{name: "not found: adapter binary missing", status: 14, code: errcode.BinaryNotFound,
			setup: func(t *testing.T) (string, []string, []string) {
				bin := e2e.BinDir(t, binDir)
				root := e2e.Project(t, bin, "stream: acme/evidence\nremotes:\n  t:\n    binary: "+filepath.Join(t.TempDir(), "epack-remote-gone")+"\n")
				e2e.WritePack(t, filepath.Join(root, "s.epack"), "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{}`)})
				return root, []string{"push", "t", "s.epack", "--insecure-allow-unpinned"}, nil
			}},
		{name: "network: upload connection refused", status: 15, code: errcode.NetworkError, text: "refused",
			setup: func(t *testing.T) (string, []string, []string) {
				bin := e2e.BinDir(t, binDir)
				tp := e2e.NewTestProject(t, bin, e2e.TestRemote{LoopbackHTTP: true, Ext: `"upload_urls":["http://` + closedAddr(t) + `/blob"]`})
				e2e.WritePack(t, filepath.Join(tp.Root, "s.epack"), "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{}`)})
				return tp.Root, []string{"push", "t", "s.epack", "--insecure-allow-unpinned"}, nil
			}},
	}

	covered := map[int]bool{}
	for _, tc := range cases {
		covered[tc.status] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the network and timeout cases wait on retries and a deadline
			dir, args, env := tc.setup(t)
			_, errOut, code := runEpack(t, dir, env, args...)
			if code != tc.status {
				t.Fatalf("exit %d, want %d\n%s", code, tc.status, errOut)
			}
			if tc.text != "" && !strings.Contains(errOut, tc.text) {
				t.Errorf("stderr lacks %q:\n%s", tc.text, errOut)
			}
			if tc.status == 0 {
				return
			}
			dir, args, env = tc.setup(t)
			out, errOut, code := runEpack(t, dir, env, append(args, "--json")...)
			var obj struct {
				OK    *bool `json:"ok"`
				Error struct {
					Code     errcode.Code `json:"code"`
					ExitCode int          `json:"exit_code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(lastJSON(out)), &obj); err != nil {
				t.Fatalf("--json output %q: %v\n%s", out, err, errOut)
			}
			if code != tc.status || obj.Error.ExitCode != tc.status || obj.Error.Code != tc.code || obj.OK == nil || *obj.OK {
				t.Fatalf("--json: exit %d, error %+v, want exit %d code %s\n%s", code, obj.Error, tc.status, tc.code, out)
			}
			if !rowHas(tc.status, tc.code) {
				t.Errorf("code %s is not in the table's row for %d", tc.code, tc.status)
			}
		})
	}
	for _, row := range exitstatus.Table() {
		if !covered[row.Status] {
			t.Errorf("exit status %d (%s) has no CLI case", row.Status, row.Meaning)
		}
	}
}

// runEpack runs the epack binary in dir with env added.
func runEpack(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	base := []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "EPACK_STRICT_PRODUCTION=", "CI=", "GITHUB_ACTIONS="}
	return testkit.Run(t, filepath.Join(e2e.BinDir(t, binDir), "epack"), dir, append(base, env...), args...)
}

// lastJSON returns the last top-level JSON object in out (commands that
// report progress as JSON lines end with the result).
func lastJSON(out string) string {
	out = strings.TrimSpace(out)
	dec := json.NewDecoder(strings.NewReader(out))
	last := out
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return last
		}
		last = string(raw)
	}
}

func rowHas(status int, code errcode.Code) bool {
	for _, row := range exitstatus.Table() {
		for _, c := range row.Codes {
			if row.Status == status && c == code {
				return true
			}
		}
	}
	return false
}

// appendYAML adds lines to the end of the project's epack.yaml (inside the
// last remote).
func appendYAML(t *testing.T, root, lines string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, config.ConfigFileName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(lines); err != nil {
		t.Fatal(err)
	}
}

// tamper rewrites the pack as an attacker would: the same manifest, a
// consistent ZIP, and artifact bytes of the same size that no longer match
// their digest.
func tamper(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if strings.HasPrefix(f.Name, "artifacts/") && len(data) > 0 {
			data = bytes.Repeat([]byte("x"), len(data))
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zr.Close()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// unsignedSourceAdapter makes a project whose source remote resolves, on a
// local fake GitHub (reached over TLS through GITHUB_API_URL), to a release
// without a Sigstore bundle: `epack sync` must refuse to install it.
func unsignedSourceAdapter(t *testing.T) (string, []string, []string) {
	gh := sourceinstalltest.NewGitHub(t, "acme", "epack-remote-vault")
	asset := sourceinstall.AssetName("vault", config.PlatformKey())
	gh.Add(&sourceinstalltest.Release{Tag: "v1.0.0", Assets: map[string][]byte{asset: []byte("#!/bin/sh\n")}})
	// Every httptest TLS server presents the same self-signed certificate;
	// the binary trusts it through SSL_CERT_FILE.
	srv := httptest.NewTLSServer(nil)
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	srv.Close()
	root := e2e.Project(t, e2e.BinDir(t, binDir), "stream: acme/evidence\nremotes:\n  origin:\n    source: acme/epack-remote-vault@^1\n")
	return root, []string{"sync"}, []string{sourceinstall.EnvGitHubAPIURL + "=" + gh.URL(), "SSL_CERT_FILE=" + certFile, "GITHUB_TOKEN="}
}
