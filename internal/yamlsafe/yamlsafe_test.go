package yamlsafe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.yaml")
	os.WriteFile(p, []byte("a: 1\n"), 0o644)
	if b, err := ReadFile(p, 5); err != nil || string(b) != "a: 1\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile(p, 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	link := filepath.Join(dir, "link.yaml")
	os.Symlink(p, link)
	if _, err := ReadFile(link, 100); !errors.Is(err, ErrSymlink) {
		t.Errorf("symlink: %v", err)
	}
	if _, err := ReadFile(dir, 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("dir: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err == nil {
		if _, err := ReadFile(fifo, 100); !errors.Is(err, ErrNotRegular) {
			t.Errorf("fifo: %v", err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if ok, err := IsSymlink(link); !ok || err != nil {
		t.Errorf("IsSymlink = %v, %v", ok, err)
	}
}

func TestParseLimits(t *testing.T) {
	ok := []string{
		"",
		"a: 1\n---\nb: [\n", // later documents are not even parsed
		"a: &a {x: 1}\nb: *a\nc: *a\n",
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	}
	for _, s := range ok {
		if _, err := Parse([]byte(s), Limits{}); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := []string{
		strings.Repeat("[", 101) + strings.Repeat("]", 101),
		"a: &a [*a]\n",
		"a: &a x\nb: [" + strings.TrimSuffix(strings.Repeat("*a, ", 11), ", ") + "]\n",
	}
	for _, s := range bad {
		if _, err := Parse([]byte(s), Limits{}); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%q: err = %v, want ErrUnsafe", s, err)
		}
	}
	if n, err := Parse([]byte("# head\na: 1\n"), Limits{}); err != nil || n == nil || n.Kind == 0 {
		t.Errorf("Parse = %v, %v", n, err)
	}
	if _, err := Parse([]byte("a: [\n"), Limits{}); err == nil || errors.Is(err, ErrUnsafe) {
		t.Errorf("syntax error: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a: &a [1, 2]\nb: [*a, *a]\n"))
	f.Add([]byte("x: {<<: {a: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data, Limits{})
	})
}
