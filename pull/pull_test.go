package pull_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pull"
	"github.com/evidencerelay/epack/push"
)

var binDir string

func TestMain(m *testing.M) { os.Exit(e2e.Main(m, &binDir)) }

type env struct {
	root, registry, state, packPath string
}

func newEnv(t *testing.T, ext string) *env {
	t.Helper()
	p := e2e.NewTestProject(t, e2e.BinDir(t, binDir), e2e.TestRemote{Ext: ext, LoopbackHTTP: true})
	e := &env{root: p.Root, registry: p.Registry, state: p.State}
	e.packPath = filepath.Join(e.root, "dist", "sample.epack")
	e2e.WritePack(t, e.packPath, "acme/evidence", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)}, e2e.File{Name: "b.txt", Data: []byte("bee")})
	po := push.Options{Remote: "t", PackPath: e.packPath, Stderr: io.Discard, ProjectDir: e.root}
	po.Unsafe.AllowUnpinned = true
	if _, err := push.Push(context.Background(), po); err != nil {
		t.Fatal(err)
	}
	return e
}

// opts pulls from the env's project (ProjectDir, never the working
// directory, so that the tests run in parallel).
func (e *env) opts(out string) pull.Options {
	o := pull.Options{Remote: "t", Output: out, Stderr: io.Discard, ProjectDir: e.root}
	o.Unsafe.AllowUnpinned = true
	return o
}

// leftovers lists temp files left next to path.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".epack-pull-*"))
	return m
}

func TestPullRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	var steps []string
	o := e.opts("")
	o.OnStep = func(s string, started bool) {
		if !started {
			steps = append(steps, s)
		}
	}
	res, err := pull.Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(e.root, "acme-evidence.epack")
	if res.OutputPath != want {
		t.Fatalf("output %s, want %s", res.OutputPath, want)
	}
	a, _ := os.ReadFile(e.packPath)
	b, _ := os.ReadFile(want)
	if string(a) != string(b) {
		t.Fatal("pulled bytes differ")
	}
	if !res.Verified || res.Digest != e2e.FileSHA256(t, e.packPath) || res.SizeBytes != int64(len(a)) {
		t.Errorf("result %+v", res)
	}
	if strings.Join(steps, "|") != "Loading remote configuration|Resolving adapter|Preparing download|Downloading pack|Verifying pack integrity|Finalizing download" {
		t.Errorf("steps %v", steps)
	}
	var rc map[string]any
	raw, _ := os.ReadFile(res.ReceiptPath)
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.ReceiptPath) != filepath.Join(e.root, ".epack", "receipts", "pull", "t") {
		t.Errorf("receipt at %s", res.ReceiptPath)
	}
	pk := rc["pack"].(map[string]any)
	if pk["output_path"] != want || pk["digest"] != res.Digest || pk["size_bytes"] != float64(len(a)) || pk["stream"] != "acme/evidence" ||
		pk["release_id"] != "rel_0001" || pk["version"] != "v1" || rc["verified"] != true || rc["receipt_version"] != float64(1) {
		t.Errorf("receipt %v", rc)
	}
	if tg := rc["target"].(map[string]any); tg["workspace"] != "acme" {
		t.Errorf("receipt target %v", tg)
	}
	// The finalize call carried the file digest and the token.
	var fin map[string]any
	for _, r := range e2e.ReadLog(t, e.state) {
		if r["type"] == "pull.finalize" {
			fin = r
		}
	}
	if fin == nil || fin["digest"] != res.Digest || fin["finalize_token"] != "ptok_1" {
		t.Errorf("finalize %v", fin)
	}
	// A second pull does not overwrite without force.
	if _, err := pull.Pull(context.Background(), e.opts("")); !errcode.Has(err, errcode.OutputExists) {
		t.Fatalf("second pull: %v", err)
	}
	o = e.opts("")
	o.Force = true
	if _, err := pull.Pull(context.Background(), o); err != nil {
		t.Fatalf("forced pull: %v", err)
	}
	if l := leftovers(t, e.root); len(l) != 0 {
		t.Errorf("temp files left: %v", l)
	}
}

func TestSanitizeStream(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"simple": "simple", "myorg/prod": "myorg-prod", "myorg/team/prod": "myorg-team-prod", "my-stream": "my-stream",
		"my_stream": "my_stream", "UPPER": "UPPER", "with spaces": "with-spaces", "special!@#chars": "special---chars",
		"": "pack", "../../../etc": "---------etc",
	} {
		if got := pull.SanitizeStream(in); got != want {
			t.Errorf("SanitizeStream(%q) = %q, want %q", in, got, want)
		}
	}
}

// failureCase sets up a failing pull; every case must leave the existing
// output untouched and no temp file behind, also with Force (COMPAT W11).
type failureCase struct {
	name  string
	ext   func(e *env) string
	code  errcode.Code
	setup func(t *testing.T, e *env, out string)
}

func TestPullFailuresNeverDestroyOutput(t *testing.T) {
	t.Parallel()
	truncating := func(t *testing.T) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(200)
			w.Write([]byte("PK partial"))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	cases := []failureCase{
		{name: "wrong digest from server", code: errcode.DigestMismatch, ext: func(e *env) string {
			return `,"pull_digest":"sha256:` + strings.Repeat("ab", 32) + `"`
		}},
		{name: "wrong size from server", code: errcode.SizeMismatch, ext: func(e *env) string { return `,"pull_size":5` }},
		{name: "truncated body", code: "", ext: func(e *env) string {
			return `,"download_url":"` + truncating(t).URL + `/blob"`
		}},
		{name: "pack fails verification", code: errcode.DigestMismatch, ext: func(e *env) string {
			bad := filepath.Join(e.registry, "bad.epack")
			raw, _ := os.ReadFile(e.packPath)
			i := strings.Index(string(raw), "bee")
			raw[i] = 'B'
			os.WriteFile(bad, raw, 0o644)
			return fmt.Sprintf(`,"download_url":"file://%s","pull_digest":"%s","pull_size":%d`, bad, e2e.FileSHA256(t, bad), len(raw))
		}},
		{name: "download outside file_root", code: errcode.PathTraversal, ext: func(e *env) string {
			return `,"download_url":"file://` + e.packPath + `"`
		}},
		{name: "http to non-loopback", code: errcode.URLNotAllowed, ext: func(e *env) string {
			return `,"download_url":"http://example.com/x"`
		}},
	}
	for _, tc := range cases {
		for _, force := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/force=%v", tc.name, force), func(t *testing.T) {
				e := newEnv(t, "")
				// Rewrite the adapter settings for this case (after the push).
				cfgPath := filepath.Join(e.root, "epack.yaml")
				y, _ := os.ReadFile(cfgPath)
				s := strings.Replace(string(y), `"state_dir":"`+e.state+`"`, `"state_dir":"`+e.state+`"`+tc.ext(e), 1)
				os.WriteFile(cfgPath, []byte(s), 0o644)
				// Without force the output does not exist yet and must not
				// appear; with force the existing file must survive intact.
				out := filepath.Join(e.root, "existing.epack")
				if force {
					os.WriteFile(out, []byte("precious"), 0o644)
				}
				o := e.opts(out)
				o.Force = force
				_, err := pull.Pull(context.Background(), o)
				if err == nil {
					t.Fatal("pull succeeded")
				}
				if tc.code != "" && !errcode.Has(err, tc.code) {
					t.Errorf("err = %v, want code %s", err, tc.code)
				}
				b, rerr := os.ReadFile(out)
				if force && string(b) != "precious" {
					t.Fatalf("existing output was changed: %q", b)
				}
				if !force && rerr == nil {
					t.Fatalf("a failed pull left an output file")
				}
				if l := leftovers(t, e.root); len(l) != 0 {
					t.Fatalf("temp files left: %v", l)
				}
			})
		}
	}
}

func TestPullOutputChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	target := filepath.Join(e.root, "target.txt")
	os.WriteFile(target, []byte("keep"), 0o644)
	link := filepath.Join(e.root, "link.epack")
	os.Symlink(target, link)
	o := e.opts(link)
	o.Force = true
	if _, err := pull.Pull(context.Background(), o); !errcode.Has(err, errcode.SymlinkNotAllowed) {
		t.Fatalf("symlink output: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatal("symlink target written")
	}
	_, err := pull.Pull(context.Background(), e.opts(filepath.Join(e.root, "missing-dir", "x.epack")))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing folder: %v", err)
	}
	// Nothing was asked of the adapter for these (checked before prepare).
	for _, r := range e2e.ReadLog(t, e.state) {
		if r["type"] == "pull.prepare" {
			t.Fatal("prepare called although the output was refused")
		}
	}
}

func TestPullResumesAfterReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	blob, _ := os.ReadFile(e.packPath)
	var calls, ranges atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n == 1 {
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
			w.WriteHeader(200)
			w.Write(blob[:len(blob)/2])
			w.(http.Flusher).Flush()
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
		}
		http.ServeContent(w, r, "x", timeZero, strings.NewReader(string(blob)))
	}))
	defer srv.Close()
	cfgPath := filepath.Join(e.root, "epack.yaml")
	y, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(y), `"state_dir":"`+e.state+`"`, `"state_dir":"`+e.state+`","download_url":"`+srv.URL+`/b"`, 1)), 0o644)
	res, err := pull.Pull(context.Background(), e.opts(filepath.Join(e.root, "out.epack")))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(res.OutputPath)
	if string(got) != string(blob) {
		t.Fatal("bytes differ after resume")
	}
	if ranges.Load() == 0 {
		t.Error("the download restarted instead of resuming with Range")
	}
}

var timeZero time.Time

// TestPullDiskFull runs the real CLI with a file-size limit (ulimit -f) that
// the pack exceeds: the pull fails cleanly, the existing output is intact
// and no temp file is left.
func TestPullDiskFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	big := filepath.Join(e.root, "dist", "big.epack")
	data := make([]byte, 12<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	e2e.WritePack(t, big, "acme/big", e2e.File{Name: "big.bin", Data: data})
	po := push.Options{Remote: "t", PackPath: big, Stderr: io.Discard, ProjectDir: e.root}
	po.Unsafe.AllowUnpinned = true
	if _, err := push.Push(context.Background(), po); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.root, "existing.epack")
	os.WriteFile(out, []byte("precious"), 0o644)
	script := fmt.Sprintf("ulimit -f 9000 && exec %s pull t -o %s --force --insecure-allow-unpinned", filepath.Join(binDir, "epack"), out)
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = e.root
	outb, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("pull succeeded under a 9 MB file-size limit:\n%s", outb)
	}
	if !strings.Contains(string(outb), "too large") && !strings.Contains(string(outb), "no space") {
		t.Errorf("unclear error:\n%s", outb)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatalf("existing output changed: %q", b)
	}
	if l := leftovers(t, e.root); len(l) != 0 {
		t.Fatalf("temp files left: %v", l)
	}
}

// An output folder that is a symbolic link is refused (the temp file is
// never created through a link), but only after the remote had been asked
// for the pack, with an io_error whose hint said "make sure the folder
// exists and is writable". It must be refused up front, as a link.
func TestPullOutputFolderIsSymlink(t *testing.T) {
	t.Parallel()
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			e := newEnv(t, "")
			real := filepath.Join(e.root, "real")
			if err := os.Mkdir(real, 0o755); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(e.root, "out")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			o := e.opts(filepath.Join(link, "x.epack"))
			o.Force = force
			_, err := pull.Pull(context.Background(), o)
			if !errcode.Has(err, errcode.SymlinkNotAllowed) {
				t.Fatalf("symlinked output folder: %v", err)
			}
			for _, r := range e2e.ReadLog(t, e.state) {
				if r["type"] == "pull.prepare" {
					t.Fatal("prepare called although the output folder was refused")
				}
			}
			if entries, _ := os.ReadDir(real); len(entries) != 0 {
				t.Fatalf("written through the link: %v", entries)
			}
		})
	}
}

// --force replaces an existing pack file, nothing else: a FIFO, socket or
// device node at the output (say -o /dev/null as root) used to be replaced
// by the pulled pack.
func TestPullForceNeverReplacesSpecialFiles(t *testing.T) {
	t.Parallel()
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			e := newEnv(t, "")
			fifo := filepath.Join(e.root, "out.epack")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			o := e.opts(fifo)
			o.Force = force
			if _, err := pull.Pull(context.Background(), o); err == nil {
				t.Fatal("pull over a FIFO succeeded")
			}
			if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Fatalf("the FIFO was replaced: %v %v", fi, err)
			}
			for _, r := range e2e.ReadLog(t, e.state) {
				if r["type"] == "pull.prepare" {
					t.Fatal("prepare called although the output was refused")
				}
			}
		})
	}
}
