package pack_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/errcode"
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
				if errcode.ExitCode(err) != errcode.ExitBadInput {
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
