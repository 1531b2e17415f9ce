//go:build linux

package sealedexec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/internal/testenv"
)

const allSeals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

func seals(t *testing.T, fd int) int {
	t.Helper()
	got, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSealedMemfdCannotChange: the memfd that runs carries every seal, so
// not even a writable reopen through /proc can write, grow or shrink it or
// add a seal, and its bytes stay the ones that were hashed.
func TestSealedMemfdCannotChange(t *testing.T) {
	withMemfd(t, true)
	p, d := sealScript(t)
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Seal(p, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Memfd() {
		testenv.NeedFeature(t, "memfd_create with sealing (Linux)")
	}
	if got := seals(t, int(s.fd.Fd())); got != allSeals {
		t.Fatalf("seals %#x, want %#x", got, allSeals)
	}
	w, err := os.OpenFile(s.execPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("reopening %s for writing: %v", s.execPath, err)
	}
	defer w.Close()
	for _, tc := range []struct {
		name string
		try  func() error
	}{
		{"write", func() error { _, err := w.WriteAt([]byte("#!/bin/false\n"), 0); return err }},
		{"grow", func() error { return w.Truncate(int64(len(want)) + 1) }},
		{"shrink", func() error { return w.Truncate(0) }},
		{"add another seal", func() error {
			_, err := unix.FcntlInt(w.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.try(); !errors.Is(err, syscall.EPERM) {
				t.Fatalf("%s on the sealed memfd: %v, want EPERM", tc.name, err)
			}
		})
	}
	got := make([]byte, len(want)+1)
	n, _ := s.fd.ReadAt(got, 0)
	if !bytes.Equal(got[:n], want) {
		t.Fatalf("sealed bytes %q, want %q", got[:n], want)
	}
}

// TestAddSealsWhileMapped: F_SEAL_WRITE is refused (EBUSY) while a writable
// shared mapping exists, which stands in for the kernel's transient page
// references. addSeals retries, gives up with EBUSY leaving the memfd
// unsealed, and seals it once the mapping is gone.
func TestAddSealsWhileMapped(t *testing.T) {
	fd, err := unix.MemfdCreate("epack-test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		testenv.NeedFeature(t, "memfd_create with sealing (Linux): %v", err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, bytes.Repeat([]byte{'x'}, 4096)); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	if err := addSeals(fd); !errors.Is(err, syscall.EBUSY) {
		unix.Munmap(m)
		t.Fatalf("addSeals with a writable mapping: %v, want EBUSY", err)
	}
	if got := seals(t, fd); got != 0 {
		t.Fatalf("a refused addSeals left seals %#x", got)
	}
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	if err := addSeals(fd); err != nil {
		t.Fatalf("addSeals without a mapping: %v", err)
	}
	if got := seals(t, fd); got != allSeals {
		t.Fatalf("seals %#x, want %#x", got, allSeals)
	}
}

// EPACK_SEALEDEXEC_NO_MEMFD is read when sealing, not at package init: set
// for one seal it gives the temp-file copy, and the next seal after it is
// unset uses a memfd again.
func TestNoMemfdEnvReadWhenSealing(t *testing.T) {
	withMemfd(t, true)
	p, d := sealScript(t)
	for _, tc := range []struct {
		env       string
		wantMemfd bool
	}{
		{"1", false},
		{"", true},
		{"0", true},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(noMemfdEnv, tc.env)
			s, err := Seal(p, d)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.wantMemfd && !s.Memfd() {
				testenv.NeedFeature(t, "memfd_create with sealing (Linux)")
			}
			if s.Memfd() != tc.wantMemfd {
				t.Fatalf("%s=%q: Memfd() = %v, want %v", noMemfdEnv, tc.env, s.Memfd(), tc.wantMemfd)
			}
		})
	}
}

// TestMemfdCopyAtChunkEdges: the memfd holds exactly the file's bytes, and
// the digest is theirs, for sizes around the copy's chunk boundaries (the
// hash follows the copy a chunk behind); a "#!" start is seen in the copy.
func TestMemfdCopyAtChunkEdges(t *testing.T) {
	withMemfd(t, true)
	dir := t.TempDir()
	for _, size := range []int{0, 1, 2, 4, 5, sendChunk - 1, sendChunk, sendChunk + 1, 3*sendChunk + 7} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + i/sendChunk)
		}
		if size >= 2 {
			copy(data, "#!")
		}
		p := filepath.Join(dir, fmt.Sprintf("adapter-%d", size))
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		want := "sha256:" + hex.EncodeToString(sum[:])
		s, err := Seal(p, want)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !s.Memfd() {
			s.Close()
			testenv.NeedFeature(t, "memfd_create with sealing (Linux)")
		}
		got := make([]byte, size+1)
		n, _ := s.fd.ReadAt(got, 0)
		if n != size || !bytes.Equal(got[:n], data) {
			t.Errorf("size %d: the memfd holds %d bytes that differ from the file's", size, n)
		}
		if s.Digest() != want {
			t.Errorf("size %d: digest %s, want %s", size, s.Digest(), want)
		}
		if s.script != (size >= 2) {
			t.Errorf("size %d: script %v", size, s.script)
		}
		s.Close()
	}
}

// TestMemfdRunsWhateverTheDescriptorNumbers: between fork and exec the Go
// runtime moves the child's error pipe to the first descriptor number past
// the highest one it hands the child (its stdio here), so a memfd run by its
// own number (/proc/self/fd/N) would be that pipe whenever N is exactly that
// number (EACCES; seen once in a while under parallel tests). The stdio is
// placed right below the memfd's number: the sealed copy must still run.
func TestMemfdRunsWhateverTheDescriptorNumbers(t *testing.T) {
	withMemfd(t, true)
	echo, err := exec.LookPath("echo")
	if err != nil {
		testenv.NeedFeature(t, "echo(1) not found on PATH")
	}
	echo, _ = filepath.EvalSymlinks(echo)
	elf := filepath.Join(t.TempDir(), "epack-remote-elf")
	copyFile(t, echo, elf, 0o755)
	s, err := Seal(elf, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Memfd() {
		testenv.NeedFeature(t, "memfd_create with sealing (Linux)")
	}
	// Move the memfd to a high number with three free numbers below it.
	free := func(fd int) bool {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		return errors.Is(err, syscall.EBADF)
	}
	base := 400
	for !(free(base-3) && free(base-2) && free(base-1) && free(base)) {
		base++
	}
	if err := unix.Dup3(int(s.fd.Fd()), base, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	s.fd.Close()
	s.fd = os.NewFile(uintptr(base), "memfd:epack-adapter")
	s.execPath = fmt.Sprintf("/proc/self/fd/%d", base)
	var stdio [3]*os.File
	for i := range stdio {
		out, err := os.CreateTemp(t.TempDir(), "stdio")
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Dup3(int(out.Fd()), base-3+i, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		out.Close()
		stdio[i] = os.NewFile(uintptr(base-3+i), "stdio")
		defer stdio[i].Close()
	}
	cmd, err := s.Command(context.Background(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	if err := cmd.Run(); err != nil {
		t.Fatalf("running the sealed copy with its stdio right below descriptor %d: %v", base, err)
	}
	got, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", base-2))
	if string(got) != "hello\n" {
		t.Fatalf("the sealed copy wrote %q, want %q", got, "hello\n")
	}
}
