//go:build unix

package e2e_test

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C, end to end: the real epack binary is stopped by a signal in the
// middle of a push, a pull and a build of a 200 MiB pack. It must exit
// 128+signal and leave nothing it had started: no temp file in the project
// or the registry, no output file, no release. Each test waits for the
// process's own stderr to show the work under way before signalling; no
// test sleeps.

const bigPackBytes = 200 << 20

// writeBigPack writes a valid pack of n artifacts holding size bytes in
// total, streamed (stored, not compressed) so the test never holds it in
// memory. Each artifact is zeros after an 8-byte index, so its digest is
// computed in one pass before the zip is written.
func writeBigPack(t *testing.T, path, stream string, n int, size int64) {
	t.Helper()
	each := size / int64(n)
	chunk := make([]byte, 1<<20)
	content := func(i int, w io.Writer) {
		var head [8]byte
		binary.BigEndian.PutUint64(head[:], uint64(i))
		w.Write(head[:])
		for left := each - 8; left > 0; {
			k := min(left, int64(len(chunk)))
			w.Write(chunk[:k])
			left -= k
		}
	}
	type art struct {
		Type   string `json:"type"`
		Path   string `json:"path"`
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	}
	var arts []art
	var pd strings.Builder
	for i := range n {
		h := sha256.New()
		content(i, h)
		a := art{"embedded", fmt.Sprintf("artifacts/blob%03d.bin", i), "sha256:" + hex.EncodeToString(h.Sum(nil)), each}
		arts = append(arts, a)
		pd.WriteString(a.Path + "\t" + a.Digest + "\n")
	}
	pdSum := sha256.Sum256([]byte(pd.String()))
	mb, _ := json.Marshal(map[string]any{
		"spec_version": "1.0", "stream": stream, "generated_at": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"pack_digest": "sha256:" + hex.EncodeToString(pdSum[:]), "sources": []any{}, "artifacts": arts,
	})
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(bufio.NewWriterSize(f, 1<<20))
	w, _ := zw.Create("manifest.json")
	w.Write(mb)
	zw.CreateHeader(&zip.FileHeader{Name: "artifacts/", Method: zip.Store})
	for i, a := range arts {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: a.Path, Method: zip.Store})
		content(i, w)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// running is an epack process started in its own process group (so the
// test can signal it the way a terminal's Ctrl-C does: the whole group),
// with its stderr read line by line.
type running struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder // the lines the test has received so far
}

func (p *proj) start(t *testing.T, args ...string) *running {
	t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "epack"), args...)
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), append([]string{"EPACK_INSECURE_ALLOW_UNPINNED=", "CI=", "GITHUB_ACTIONS="}, p.env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return r
}

// waitFor reads stderr until a line contains s.
func (r *running) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.cmd.Wait()
				t.Fatalf("epack ended before printing %q (exit %d):\n%s", s, r.cmd.ProcessState.ExitCode(), r.stderr.String())
			}
			r.stderr.WriteString(l + "\n")
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on stderr:\n%s", s, r.stderr.String())
		}
	}
}

// signal sends sig to the process group (group) or to epack alone, then
// reads stderr to its end and returns the exit status and all of stderr.
func (r *running) signal(t *testing.T, sig syscall.Signal, group bool) (int, string) {
	t.Helper()
	pid := r.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	for l := range r.lines {
		r.stderr.WriteString(l + "\n")
	}
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return r.cmd.ProcessState.ExitCode(), r.stderr.String()
}

// leftovers lists the files below dir whose names look like epack's temp
// files.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		n := d.Name()
		if strings.HasPrefix(n, ".epack-upload-") || strings.HasPrefix(n, ".epack-pull-") ||
			(strings.HasPrefix(n, "pack-") && strings.HasSuffix(n, ".zip")) || strings.HasSuffix(n, ".part") || strings.HasSuffix(n, ".tmp") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// TestInterruptPush stops 'epack push' of a 200 MiB pack with Ctrl-C (SIGINT
// to its process group, adapter included) while the pack is being verified
// and staged into the registry: exit 130, the staged copy is removed, no
// release exists, and the error is reported once.
func TestInterruptPush(t *testing.T) {
	p := newProj(t, fsStore())
	writeBigPack(t, filepath.Join(p.root, "dist", "big.epack"), "acme/prod", 4, bigPackBytes)
	r := p.start(t, "push", "reg", "dist/big.epack", "--frozen")
	r.waitFor(t, "Verifying pack integrity...")
	// The staged copy exists from before this line on: the test does
	// interrupt a push that has written into the registry.
	staged := leftovers(t, filepath.Join(p.root, ".epack", "registry"))
	code, stderr := r.signal(t, syscall.SIGINT, true)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	t.Logf("staged before the signal: %v\nstderr:\n%s", staged, stderr)
	if left := leftovers(t, p.root); len(left) > 0 {
		t.Errorf("temp files left: %v\n%s", left, stderr)
	}
	if files := registryFiles(t, p.root); len(files) > 0 {
		t.Errorf("the interrupted push left files in the registry (a release?): %v", files)
	}
	if n := strings.Count(stderr, "Error:"); n != 1 || !strings.Contains(stderr, "Error: [canceled] interrupted by SIGINT") {
		t.Errorf("%d error lines, want one saying it was interrupted:\n%s", n, stderr)
	}
	if out, errOut, code := p.run(t, "pull", "reg", "-o", "check.epack", "--frozen"); code == 0 {
		t.Errorf("a release exists after the interrupted push:\n%s%s", out, errOut)
	}
}

// TestInterruptPull stops 'epack pull' of a 200 MiB pack once the download
// shows progress, by SIGINT to the process group and by SIGTERM to epack
// alone: exit 130 / 143, no output file, no temp file, and the registry
// keeps the release.
func TestInterruptPull(t *testing.T) {
	p := newProj(t, fsStore())
	writeBigPack(t, filepath.Join(p.root, "dist", "big.epack"), "acme/prod", 4, bigPackBytes)
	if out, errOut, code := p.run(t, "push", "reg", "dist/big.epack", "--frozen", "-q"); code != 0 {
		t.Fatalf("push: exit %d\n%s%s", code, out, errOut)
	}
	os.Remove(filepath.Join(p.root, "dist", "big.epack"))
	before := registryFiles(t, p.root)
	for _, tc := range []struct {
		sig    syscall.Signal
		group  bool
		status int
	}{{syscall.SIGINT, true, 130}, {syscall.SIGTERM, false, 143}} {
		r := p.start(t, "pull", "reg", "-o", "got.epack", "--frozen")
		r.waitFor(t, "Downloading (")
		code, stderr := r.signal(t, tc.sig, tc.group)
		t.Logf("%v: stderr:\n%s", tc.sig, stderr)
		if code != tc.status {
			t.Fatalf("%v: exit %d, want %d\n%s", tc.sig, code, tc.status, stderr)
		}
		if left := leftovers(t, p.root); len(left) > 0 {
			t.Errorf("%v: temp files left: %v", tc.sig, left)
		}
		if _, err := os.Lstat(filepath.Join(p.root, "got.epack")); err == nil {
			t.Errorf("%v: the interrupted pull left its output file", tc.sig)
		}
		if n := strings.Count(stderr, "Error:"); n != 1 {
			t.Errorf("%v: %d error lines:\n%s", tc.sig, n, stderr)
		}
	}
	if after := registryFiles(t, p.root); len(after) != len(before) {
		t.Errorf("registry changed: %v, was %v", after, before)
	}
	// The release is still whole: an uninterrupted pull works.
	if out, errOut, code := p.run(t, "pull", "reg", "-o", "got.epack", "--frozen", "-q"); code != 0 {
		t.Fatalf("pull after the interrupted ones: exit %d\n%s%s", code, out, errOut)
	}
}

// TestInterruptBuild stops 'epack build' of 200 MiB of files halfway
// through adding them (its --verbose lines say how far it is): exit 130,
// no pack and no pack-*.zip temp file.
func TestInterruptBuild(t *testing.T) {
	p := newProj(t, fsStore())
	data := filepath.Join(p.root, "data")
	os.MkdirAll(data, 0o755)
	const files = 100
	chunk := make([]byte, bigPackBytes/files)
	for i := range files {
		binary.BigEndian.PutUint64(chunk, uint64(i))
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("f%03d.bin", i)), chunk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := p.start(t, "build", "big.epack", "data", "--verbose")
	r.waitFor(t, "f050.bin")
	code, stderr := r.signal(t, syscall.SIGINT, true)
	t.Logf("stderr:\n%s", stderr)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	if left := leftovers(t, p.root); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if _, err := os.Lstat(filepath.Join(p.root, "big.epack")); err == nil {
		t.Error("the interrupted build wrote its pack")
	}
	if !strings.Contains(stderr, "Error: [canceled] interrupted by SIGINT") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
