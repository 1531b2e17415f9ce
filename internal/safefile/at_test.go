//go:build unix

package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// plant puts an entry of the given kind at dir/name; elsewhere holds the
// targets of the links, which must never be touched.
func plant(t *testing.T, dir, elsewhere, name, kind string) {
	t.Helper()
	p := filepath.Join(dir, name)
	var err error
	switch kind {
	case "missing":
	case "regular":
		err = os.WriteFile(p, []byte("old\n"), 0o600)
	case "folder":
		err = os.Mkdir(p, 0o700)
	case "fifo":
		err = syscall.Mkfifo(p, 0o600)
	case "link to file":
		target := filepath.Join(elsewhere, "target")
		if err = os.WriteFile(target, []byte("target\n"), 0o600); err == nil {
			err = os.Symlink(target, p)
		}
	case "link to folder":
		err = os.Symlink(elsewhere, p)
	case "dangling link":
		err = os.Symlink(filepath.Join(elsewhere, "nowhere"), p)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// withinDeadline fails the test when f blocks (a FIFO opened for writing
// without O_NONBLOCK waits for a reader forever).
func withinDeadline[T any](t *testing.T, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() { v, err := f(); done <- result{v, err} }()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("open blocked")
		panic("unreachable")
	}
}

func TestDirOpenRegularHelpers(t *testing.T) {
	helpers := []struct {
		name string
		open func(d *Dir, name string) (*os.File, error)
	}{
		{"OpenLock", func(d *Dir, name string) (*os.File, error) { return d.OpenLock(name, 0o600) }},
		{"OpenAppend", func(d *Dir, name string) (*os.File, error) { return d.OpenAppend(name, 0o600) }},
	}
	cases := []struct {
		kind string
		want errcode.Code // "" = opened
	}{
		{"missing", ""},
		{"regular", ""},
		{"link to file", errcode.SymlinkNotAllowed},
		{"dangling link", errcode.SymlinkNotAllowed},
		{"link to folder", errcode.SymlinkNotAllowed},
		{"fifo", errcode.InvalidPath},
		{"folder", errcode.InvalidPath},
	}
	for _, h := range helpers {
		for _, c := range cases {
			t.Run(h.name+"/"+c.kind, func(t *testing.T) {
				dir, elsewhere := t.TempDir(), t.TempDir()
				plant(t, dir, elsewhere, "f", c.kind)
				d, err := OpenDir(dir, "", false, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				f, err := withinDeadline(t, func() (*os.File, error) { return h.open(d, "f") })
				if c.want != "" {
					wantCode(t, err, c.want, filepath.Join(dir, "f"))
					if f != nil {
						t.Fatal("a file came back with the error")
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					if _, err := f.Write([]byte("new\n")); err != nil {
						t.Fatal(err)
					}
					f.Close()
					fi, err := os.Lstat(filepath.Join(dir, "f"))
					if err != nil || !fi.Mode().IsRegular() {
						t.Fatalf("not a regular file afterwards: %v %v", fi, err)
					}
				}
				if b, err := os.ReadFile(filepath.Join(elsewhere, "target")); err == nil && string(b) != "target\n" {
					t.Fatalf("wrote through the link: %q", b)
				}
				if _, err := os.Lstat(filepath.Join(elsewhere, "nowhere")); err == nil {
					t.Fatal("created the dangling link's target")
				}
			})
		}
	}
	// OpenAppend appends; OpenLock keeps the content too (it never truncates).
	dir := t.TempDir()
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := 0; i < 2; i++ {
		f, err := d.OpenAppend("log", 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("line\n"))
		f.Close()
	}
	if l, err := d.OpenLock("log", 0o600); err != nil {
		t.Fatal(err)
	} else {
		l.Close()
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "log")); string(b) != "line\nline\n" {
		t.Fatalf("log = %q", b)
	}
}

func TestDirCreateUnique(t *testing.T) {
	// Whatever holds the first name, it is left alone and the next name is
	// created: an existing entry is never opened, a link never followed.
	for _, kind := range []string{"missing", "regular", "link to file", "dangling link", "link to folder", "fifo", "folder"} {
		t.Run(kind, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			plant(t, dir, elsewhere, "job.log", kind)
			d, err := OpenDir(dir, "", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			f, err := withinDeadline(t, func() (*os.File, error) {
				f, _, err := d.CreateUnique("job", ".log", 0o600)
				return f, err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := filepath.Join(dir, "job_2.log")
			if kind == "missing" {
				want = filepath.Join(dir, "job.log")
			}
			if f.Name() != want {
				t.Fatalf("created %s, want %s", f.Name(), want)
			}
			if _, err := f.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(want); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v %v", want, fi, err)
			}
			if b, err := os.ReadFile(filepath.Join(elsewhere, "target")); err == nil && string(b) != "target\n" {
				t.Fatalf("wrote through the link: %q", b)
			}
			if _, err := os.Lstat(filepath.Join(elsewhere, "nowhere")); err == nil {
				t.Fatal("created the dangling link's target")
			}
		})
	}
	t.Run("names", func(t *testing.T) {
		dir := t.TempDir()
		d, err := OpenDir(dir, "", false, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for i, want := range []string{"a.log", "a_2.log", "a_3.log"} {
			f, path, err := d.CreateUnique("a", ".log", 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if path != filepath.Join(dir, want) || f.Name() != path {
				t.Fatalf("%d: got %s (%s), want %s", i, path, f.Name(), want)
			}
		}
		for _, bad := range [][2]string{{"", ".log"}, {"a/b", ".log"}, {"..", ""}} {
			if _, _, err := d.CreateUnique(bad[0], bad[1], 0o600); !errcode.Has(err, errcode.InvalidPath) {
				t.Fatalf("CreateUnique(%q, %q) = %v", bad[0], bad[1], err)
			}
		}
	})
}

func TestDirOpenDirAndReadDir(t *testing.T) {
	cases := []struct {
		kind string
		want errcode.Code // "" = opened
	}{
		{"folder", ""},
		{"link to folder", errcode.SymlinkNotAllowed},
		{"dangling link", errcode.SymlinkNotAllowed},
		{"regular", errcode.InvalidPath},
		{"fifo", errcode.InvalidPath},
		{"missing", errcode.IOError},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			plant(t, dir, elsewhere, "sub", c.kind)
			d, err := OpenDir(dir, "", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			sub, err := withinDeadline(t, func() (*Dir, error) { return d.OpenDir("sub") })
			if c.want != "" {
				wantCode(t, err, c.want, filepath.Join(dir, "sub"))
				if c.kind == "missing" && !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("missing folder: %v is not fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if sub.Path() != filepath.Join(dir, "sub") {
				t.Fatalf("Path = %s", sub.Path())
			}
			if _, err := d.OpenDir("../x"); !errcode.Has(err, errcode.InvalidPath) {
				t.Fatalf("OpenDir(../x) = %v", err)
			}
		})
	}
}

func TestDirReadDirListsTheHandle(t *testing.T) {
	root := t.TempDir()
	plant(t, root, root, "d", "folder")
	for _, n := range []string{"b", "a", ".hidden"} {
		plant(t, filepath.Join(root, "d"), root, n, "regular")
	}
	d, err := OpenDir(root, "d", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Move the folder away and put a link to somewhere else in its place:
	// the listing is still of the folder that was opened.
	if err := os.Rename(filepath.Join(root, "d"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	plant(t, other, other, "planted", "regular")
	if err := os.Symlink(other, filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a second call lists everything again
		ents, err := d.ReadDir()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		if len(names) != 3 || names[0] != ".hidden" || names[1] != "a" || names[2] != "b" {
			t.Fatalf("call %d: ReadDir = %v", i+1, names)
		}
	}
}

func TestDirChmod(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root, "d", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, perm := range []os.FileMode{0o700, 0o700, 0o750} {
		if err := d.Chmod(perm); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(root, "d")); err != nil || fi.Mode().Perm() != perm {
			t.Fatalf("mode = %v (%v), want %v", fi.Mode().Perm(), err, perm)
		}
	}
}

// TestDirReadFile: the bounded whole-file read takes a regular file of up
// to max bytes and refuses links, FIFOs (without blocking), folders and a
// file one byte over; a missing name is fs.ErrNotExist.
func TestDirReadFile(t *testing.T) {
	for _, c := range []struct {
		kind string
		max  int64
		want errcode.Code // "" = read
	}{
		{"regular", 4, ""}, // "old\n" is 4 bytes
		{"regular", 3, errcode.InvalidInput},
		{"link to file", 100, errcode.SymlinkNotAllowed},
		{"dangling link", 100, errcode.SymlinkNotAllowed},
		{"fifo", 100, errcode.InvalidPath},
		{"folder", 100, errcode.InvalidPath},
	} {
		t.Run(c.kind, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			plant(t, dir, elsewhere, "f", c.kind)
			d, err := OpenDir(dir, "", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			b, err := withinDeadline(t, func() ([]byte, error) { return d.ReadFile("f", c.max) })
			if c.want != "" {
				wantCode(t, err, c.want, filepath.Join(dir, "f"))
				if b != nil {
					t.Fatalf("bytes came back with the error: %q", b)
				}
				return
			}
			if err != nil || string(b) != "old\n" {
				t.Fatalf("ReadFile = %q, %v", b, err)
			}
		})
	}
	d, err := OpenDir(t.TempDir(), "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ReadFile("missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}
