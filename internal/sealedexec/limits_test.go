package sealedexec

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testkit"
)

// TestSealSizeLimit: a binary of exactly MaxBinarySize passes the size check,
// one byte more is refused before anything is copied. The files are sparse,
// and the private folder's parent is missing, so a binary that passes the
// check fails right after it (creating the private folder) instead of being
// copied: which of the two errors comes back tells where it stopped.
func TestSealSizeLimit(t *testing.T) {
	withMemfd(t, false)
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", missing)
	for _, tc := range []struct {
		name string
		size int64
		code errcode.Code
		text string
	}{
		{"exactly the limit", MaxBinarySize, errcode.IOError, "creating private exec directory"},
		{"one byte over", MaxBinarySize + 1, errcode.AdapterExecFailed, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			err = f.Truncate(tc.size)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			s, err := Seal(p, "")
			if err == nil {
				s.Close()
			}
			testkit.WantCode(t, err, tc.code, tc.text)
		})
	}
	if _, err := os.Lstat(missing); !os.IsNotExist(err) {
		t.Fatalf("the private folder's parent appeared: %v", err)
	}
}

// endless hands out n bytes without filling the buffer (its contents do not
// matter here), cheaply.
type endless struct{ left int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.left))
	e.left -= int64(n)
	return n, nil
}

// counting is a hash.Hash that only counts what it is given.
type counting struct{ n int64 }

func (c *counting) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
func (c *counting) Sum(b []byte) []byte         { return b }
func (c *counting) Reset()                      { c.n = 0 }
func (c *counting) Size() int                   { return 0 }
func (c *counting) BlockSize() int              { return 1 }

// TestCopyHashSizeLimit: the copy accepts exactly MaxBinarySize bytes (a file
// that was that big at stat time) and stops with AdapterExecFailed on the
// first byte more (a file that grew while being copied).
func TestCopyHashSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		fail bool
	}{
		{"exactly the limit", MaxBinarySize, false},
		{"one byte over", MaxBinarySize + 1, true},
		{"empty", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &counting{}
			_, err := copyHash(io.Discard, &endless{left: tc.size}, h)
			if tc.fail {
				testkit.WantCode(t, err, errcode.AdapterExecFailed, "grew past")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.n != tc.size {
				t.Fatalf("hashed %d bytes, want %d", h.n, tc.size)
			}
		})
	}
}

// TestTempCopyKeepsTheName: the private copy has the original's file name,
// which is what a script sees as $0 (the kernel hands the interpreter the
// path it executed).
func TestTempCopyKeepsTheName(t *testing.T) {
	withMemfd(t, false)
	for _, name := range []string{"epack-remote-sh", "epack-remote-x.v2", "with space"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"${0##*/}\"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			s, err := Seal(p, "")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Memfd() {
				t.Fatal("memfd used although disabled")
			}
			cmd, err := s.Command(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out, err := cmd.Output()
			if err != nil || string(out) != name+"\n" {
				t.Fatalf("script saw $0 = %q (%v), want %q", out, err, name)
			}
			if got := filepath.Base(s.execPath); got != name {
				t.Fatalf("private copy named %q, want %q", got, name)
			}
		})
	}
}

// TestCloseReportsRemovalFailure: Close returns the error of removing the
// private folder, and when releasing the memfd failed as well, that first
// error. os.RemoveAll refuses a path ending in "." (EINVAL) whoever runs the
// test, so such a path stands in for a folder that cannot be removed.
func TestCloseReportsRemovalFailure(t *testing.T) {
	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tc := range []struct {
		name        string
		fd          *os.File
		unremovable bool
		want        error // nil: no error
	}{
		{"removed", nil, false, nil},
		{"removal refused", nil, true, syscall.EINVAL},
		{"both fail: the first error wins", closed, true, os.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "epack-exec-test")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			s := &Sealed{orig: "/x", fd: tc.fd, dir: dir, execPath: filepath.Join(dir, "x")}
			if tc.unremovable {
				s.dir = dir + string(filepath.Separator) + "."
			}
			err := s.Close()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Lstat(dir); !os.IsNotExist(err) {
					t.Fatalf("private folder left: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Close = %v, want %v", err, tc.want)
			}
			if s.TempDir() != "" || s.Memfd() {
				t.Fatal("a failed Close still holds the copy")
			}
		})
	}
}
