package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// readJob backs 'epack jobs <id>'. A job record that is not a regular file
// (a FIFO planted in .epack/jobs used to block the command forever, deaf to
// SIGTERM) must be refused at once.
func TestReadJobRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "ok.json")
	if err := os.WriteFile(regular, []byte(`{"id":"ok","status":"completed"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder.json")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		wantErr    bool
	}{
		{"regular", regular, false},
		{"fifo", fifo, true},
		{"folder", folder, true},
		{"symlink", link, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := readJob(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if (err != nil) != tc.wantErr {
					t.Fatalf("readJob(%s) error = %v, want error %v", tc.name, err, tc.wantErr)
				}
			case <-time.After(5 * time.Second):
				// Unblock the stuck open so the test binary can exit.
				if w, err := os.OpenFile(tc.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("readJob(%s) hangs", tc.name)
			}
		})
	}
}

// jobsFolder refuses a linked .epack or jobs folder and makes an older,
// world-readable jobs folder private.
func TestJobsFolder(t *testing.T) {
	t.Run("tightens 0755", func(t *testing.T) {
		base := t.TempDir()
		if err := os.MkdirAll(filepath.Join(base, ".epack", "jobs"), 0o755); err != nil {
			t.Fatal(err)
		}
		d, err := jobsFolder(base)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if d.Path() != filepath.Join(base, ".epack", "jobs") {
			t.Fatalf("Path = %s", d.Path())
		}
		if fi, err := os.Stat(d.Path()); err != nil || fi.Mode().Perm() != jobsDirPerm {
			t.Fatalf("mode %v %v", fi, err)
		}
	})
	for _, linked := range []string{".epack", filepath.Join(".epack", "jobs")} {
		t.Run("linked "+linked, func(t *testing.T) {
			base, elsewhere := t.TempDir(), t.TempDir()
			if err := os.MkdirAll(filepath.Dir(filepath.Join(base, linked)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, filepath.Join(base, linked)); err != nil {
				t.Fatal(err)
			}
			if d, err := jobsFolder(base); err == nil {
				d.Close()
				t.Fatal("jobsFolder went through a symbolic link")
			}
			if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
				t.Fatalf("created %v through the link", ents)
			}
		})
	}
}
