//go:build unix

package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFileNoFollow(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "d", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d", "sub", "f.json"), []byte(`{"ok":true}`), 0o644))
	must(os.Symlink(filepath.Join(root, "d", "sub"), filepath.Join(root, "d", "linkdir")))
	must(os.Symlink(filepath.Join(root, "d", "sub", "f.json"), filepath.Join(root, "d", "sub", "link.json")))
	must(os.Symlink(filepath.Join(root, "d"), filepath.Join(root, "rootlink")))
	must(syscall.Mkfifo(filepath.Join(root, "d", "fifo"), 0o644))

	tests := []struct {
		name, dir, rel string
		max            int64
		want, wantErr  string
	}{
		{"regular file", filepath.Join(root, "d"), filepath.Join("sub", "f.json"), 100, `{"ok":true}`, ""},
		{"exactly the limit", filepath.Join(root, "d"), filepath.Join("sub", "f.json"), 11, `{"ok":true}`, ""},
		{"over the limit", filepath.Join(root, "d"), filepath.Join("sub", "f.json"), 10, "", "limit 10"},
		{"symlinked file", filepath.Join(root, "d"), filepath.Join("sub", "link.json"), 100, "", `"link.json" is a symlink`},
		{"symlinked folder", filepath.Join(root, "d"), filepath.Join("linkdir", "f.json"), 100, "", `"linkdir" is not a directory (or is a symlink)`},
		{"symlinked root", filepath.Join(root, "rootlink"), filepath.Join("sub", "f.json"), 100, "", `"rootlink"`},
		{"missing", filepath.Join(root, "d"), filepath.Join("sub", "nope"), 100, "", `"nope" does not exist`},
		{"fifo", filepath.Join(root, "d"), "fifo", 100, "", "not a regular file"},
		{"folder", filepath.Join(root, "d"), "sub", 100, "", "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFileNoFollow(tc.dir, tc.rel, tc.max)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
