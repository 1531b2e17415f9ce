package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestAuditRefusesSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, ".epack")); err != nil {
		t.Fatal(err)
	}
	if err := appendLine(root, "x", nil); err == nil {
		t.Fatal("audit followed a symlinked .epack")
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Fatalf("wrote through the symlink: %v", ents)
	}
	root2 := t.TempDir()
	os.Mkdir(filepath.Join(root2, ".epack"), 0o755)
	target := filepath.Join(elsewhere, "target")
	os.WriteFile(target, nil, 0o644)
	os.Symlink(target, filepath.Join(root2, ".epack", "audit.log"))
	if err := appendLine(root2, "x", nil); err == nil {
		t.Fatal("audit followed a symlinked audit.log")
	}
	root3 := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := appendLine(root3, "ev", map[string]any{"remote": "r"}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(root3, ".epack", "audit.log"))
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.Contains(lines[1], `"event":"ev"`) || !strings.Contains(lines[1], `"remote":"r"`) {
		t.Fatalf("%q", b)
	}
}

// Trace reports a failure on the writer it is given and nowhere else.
func TestTraceWarnsWhereTold(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, File), 0o755); err != nil { // a folder in the log's place
		t.Fatal(err)
	}
	var warn strings.Builder
	Trace(root, "ssrf_blocked_url", nil, &warn)
	if !strings.Contains(warn.String(), "could not write audit log") {
		t.Fatalf("warning = %q", warn.String())
	}
	Trace(root, "ssrf_blocked_url", nil, nil) // nil writer: dropped, no panic
	if err := Insecure(root, "insecure_bypass", nil); err == nil || !strings.Contains(err.Error(), filepath.Join(root, File)) {
		t.Fatalf("Insecure = %v", err)
	}
	if err := Insecure("", "insecure_bypass", nil); err == nil {
		t.Fatal("Insecure without a project folder succeeded")
	}
}

// An audit.log that is a FIFO blocked open(2) for writing forever, so every
// unpinned push or pull hung (and Ctrl-C could not stop it). It must be
// refused at once, with or without a reader on the other end.
func TestAuditRefusesSpecialFiles(t *testing.T) {
	for _, withReader := range []bool{false, true} {
		t.Run(fmt.Sprintf("reader=%v", withReader), func(t *testing.T) {
			root := t.TempDir()
			os.Mkdir(filepath.Join(root, ".epack"), 0o755)
			fifo := filepath.Join(root, ".epack", "audit.log")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			if withReader {
				r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			done := make(chan error, 1)
			go func() { done <- appendLine(root, "x", nil) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("audit wrote to a FIFO")
				}
			case <-time.After(5 * time.Second):
				if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
					defer r.Close()
				}
				t.Fatal("audit blocks on a FIFO")
			}
		})
	}
}

// The project root itself is opened as its path resolves (a shell may name
// it through a link, as macOS's /tmp does); only .epack and the log below it
// must not be links.
func TestAuditFollowsALinkedProjectRoot(t *testing.T) {
	t.Parallel()
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "project")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Insecure(link, "insecure_bypass", nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(real, File))
	if err != nil || !strings.Contains(string(b), `"event":"insecure_bypass"`) {
		t.Fatalf("%q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(real, File)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("log mode: %v %v", fi, err)
	}
}
