package sealedexec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testenv"
)

func sealScript(t *testing.T) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "epack-remote-sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho ok\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

// The private copy (no memfd) lives in its own folder, which Close removes;
// Close is idempotent and a closed Sealed cannot run.
func TestCloseRemovesThePrivateCopy(t *testing.T) {
	withMemfd(t, false)
	p, d := sealScript(t)
	s, err := Seal(p, d)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.TempDir()
	if dir == "" {
		t.Fatal("no private folder for the temp copy")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("private folder missing before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("private folder left after Close: %v", err)
	}
	if s.TempDir() != "" || s.Memfd() {
		t.Fatalf("closed Sealed still holds its copy: dir %q memfd %v", s.TempDir(), s.Memfd())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// With a memfd there is no folder to remove, and Close releases the fd.
func TestCloseReleasesTheMemfd(t *testing.T) {
	withMemfd(t, true)
	p, d := sealScript(t)
	s, err := Seal(p, d)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Memfd() {
		testenv.NeedFeature(t, "memfd_create with sealing (Linux)") // the fallback is TestCloseRemovesThePrivateCopy
	}
	if s.TempDir() != "" {
		t.Fatalf("memfd seal made a folder %q", s.TempDir())
	}
	if err := s.Close(); err != nil || s.Memfd() {
		t.Fatalf("Close: %v, memfd still held: %v", err, s.Memfd())
	}
	// The fd number is free now and may name another file: a command of
	// the closed copy must be refused, not exec that number.
	if cmd, err := s.Command(context.Background()); err == nil || !errcode.Has(err, errcode.Internal) {
		t.Fatalf("Command after Close = %v, %v; want the 'closed' error", cmd, err)
	}
}

// The private copy goes under XDG_RUNTIME_DIR only when that folder is
// absolute, ours and 0700; otherwise under the system temp folder.
func TestPrivateBase(t *testing.T) {
	withMemfd(t, false)
	good := t.TempDir()
	if err := os.Chmod(good, 0o700); err != nil {
		t.Fatal(err)
	}
	open := t.TempDir()
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, runtime string
		under         bool
	}{
		{"private runtime dir", good, true},
		{"group/world readable", open, false},
		{"relative", "rel/dir", false},
		{"unset", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tc.runtime)
			p, d := sealScript(t)
			s, err := Seal(p, d)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := strings.HasPrefix(s.TempDir(), tc.runtime+string(filepath.Separator)) && tc.runtime != ""
			if got != tc.under {
				t.Fatalf("copy at %s; under %q = %v, want %v", s.TempDir(), tc.runtime, got, tc.under)
			}
		})
	}
}
