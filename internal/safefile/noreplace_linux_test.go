//go:build linux

package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRenameNoReplaceFallback: an EINVAL from renameat2 (what a file system
// without RENAME_NOREPLACE answers) sends renameNoReplace to its link-based
// fallback instead of being returned. Moving a folder into itself is the
// one EINVAL every file system gives; the fallback's link(2) of a folder
// then fails with EPERM, and that is the error that must come back. Other
// errors are returned as renameat2 gave them: moving "." itself is EBUSY
// there, where the link(2) of the fallback would say EPERM.
func TestRenameNoReplaceFallback(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a", "other"} {
		if err := os.Mkdir(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name, src, dst string
		want           error // nil for success
	}{
		{"folder into itself: fallback's answer", "a", "a/b", unix.EPERM},
		{"the folder itself: not a fallback case", ".", "z", unix.EBUSY},
		{"taken name", "f", "other", unix.EEXIST},
		{"missing source", "nope", "g", unix.ENOENT},
		{"free name", "f", "g", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := renameNoReplace(d.fd, tc.src, d.fd, tc.dst)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("renameNoReplace(%s, %s) = %v, want %v", tc.src, tc.dst, err, tc.want)
			}
		})
	}
	if st, err := os.Lstat(filepath.Join(dir, "a")); err != nil || !st.IsDir() {
		t.Fatalf("the folder moved: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a", "b")); !os.IsNotExist(err) {
		t.Fatalf("a/b exists: %v", err)
	}
}
