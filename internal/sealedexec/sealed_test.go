package sealedexec

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testenv"
)

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func withMemfd(t *testing.T, on bool) {
	old := disableMemfd
	disableMemfd = !on
	t.Cleanup(func() { disableMemfd = old })
}

func TestSealRunsELFAndScript(t *testing.T) {
	echo, err := exec.LookPath("echo")
	if err != nil {
		testenv.NeedFeature(t, "echo(1) not found on PATH")
	}
	echo, _ = filepath.EvalSymlinks(echo)
	for _, memfd := range []bool{true, false} {
		t.Run(map[bool]string{true: "memfd", false: "tempfile"}[memfd], func(t *testing.T) {
			withMemfd(t, memfd)
			dir := t.TempDir()
			elf := filepath.Join(dir, "epack-remote-elf")
			copyFile(t, echo, elf, 0o755)
			script := filepath.Join(dir, "epack-remote-sh")
			os.WriteFile(script, []byte("#!/bin/sh\necho script \"$1\"\n"), 0o755)
			for _, tc := range []struct{ path, want string }{{elf, "hello\n"}, {script, "script hello\n"}} {
				d, err := HashFile(tc.path)
				if err != nil {
					t.Fatal(err)
				}
				s, err := Seal(tc.path, d)
				if err != nil {
					t.Fatal(err)
				}
				if s.Memfd() != memfd {
					t.Fatalf("memfd = %v", s.Memfd())
				}
				for i := 0; i < 2; i++ { // reused
					cmd, err := s.Command(context.Background(), "hello")
					if err != nil {
						t.Fatal(err)
					}
					out, err := cmd.Output()
					if err != nil || string(out) != tc.want {
						t.Fatalf("%s: out %q err %v", tc.path, out, err)
					}
				}
				tmp := s.TempDir()
				s.Close()
				s.Close()
				if tmp != "" {
					if _, err := os.Stat(tmp); !os.IsNotExist(err) {
						t.Fatalf("temp dir left: %v", err)
					}
				}
			}
		})
	}
}

func TestSealMismatchLeavesNothing(t *testing.T) {
	withMemfd(t, false)
	tmpRoot := t.TempDir()
	t.Setenv("TMPDIR", tmpRoot)
	t.Setenv("XDG_RUNTIME_DIR", "")
	dir := t.TempDir()
	p := filepath.Join(dir, "epack-remote-x")
	os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o755)
	_, err := Seal(p, "sha256:"+strings.Repeat("0", 64))
	if errcode.Of(err) != errcode.DigestMismatch || !strings.Contains(err.Error(), "digest mismatch for epack-remote-x") {
		t.Fatalf("err = %v", err)
	}
	ents, _ := os.ReadDir(tmpRoot)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestSealRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "real")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	l := filepath.Join(dir, "epack-remote-l")
	os.Symlink(p, l)
	if _, err := Seal(l, ""); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Fatalf("err = %v", err)
	}
	if _, err := HashFile(l); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Fatalf("err = %v", err)
	}
	if _, err := Seal(filepath.Join(dir, "missing"), ""); errcode.Of(err) != errcode.BinaryNotFound {
		t.Fatalf("err = %v", err)
	}
	if _, err := Seal(dir, ""); err == nil {
		t.Fatal("directory sealed")
	}
}
