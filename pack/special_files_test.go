package pack_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pack"
)

// A pack path or artifact source that is a FIFO used to block open(2)
// forever (verify, inspect, push, build), deaf to SIGTERM because the CLI
// turns it into a context cancellation. It must be refused as "not a regular
// file" at once.
func TestSpecialFilesRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pack.epack")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Open", func() error {
			p, err := pack.Open(fifo)
			if err == nil {
				p.Close()
			}
			return err
		}},
		{"Builder.AddFile", func() error {
			return pack.NewBuilder("acme/prod").AddFile("a.json", fifo)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.call() }()
			select {
			case err := <-done:
				if exitstatus.Of(err) != exitstatus.BadInput {
					t.Fatalf("%s(fifo) = %v, want a bad-input error", tc.name, err)
				}
			case <-time.After(5 * time.Second):
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("%s(fifo) blocks", tc.name)
			}
		})
	}
}

// WriteFile renamed the new pack over whatever was at out: 'epack build
// /dev/null …' as root replaced the device node. An existing pack (regular
// file) is still replaced; a FIFO, socket or device is refused.
func TestWriteFileNeverReplacesSpecialFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		make    func(path string) error
		replace bool
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("old"), 0o644) }, true},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.epack")
			if err := tc.make(out); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(out)
			b := pack.NewBuilder("acme/prod")
			if err := b.AddBytes("a.json", []byte(`{"a":1}`)); err != nil {
				t.Fatal(err)
			}
			_, err := b.WriteFile(context.Background(), out)
			after, lerr := os.Lstat(out)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.replace {
				if err != nil || !after.Mode().IsRegular() || after.Size() == before.Size() {
					t.Fatalf("existing pack not replaced: %v", err)
				}
			} else {
				if err == nil || after.Mode() != before.Mode() {
					t.Fatalf("%s replaced (err %v)", tc.name, err)
				}
				if exitstatus.Of(err) != exitstatus.BadInput {
					t.Fatalf("error %v: exit %d, want %d", err, exitstatus.Of(err), exitstatus.BadInput)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("temp files left: %v", ents)
			}
		})
	}
}
