//go:build unix

package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testkit"
)

// wantCode is the shared assertion of internal/testkit: err carries code
// as its outermost errcode, and its text mentions each given substring.
var wantCode = testkit.WantCode

func mustNoEntries(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("%s should be empty, has %v", dir, names)
	}
}

func TestMkdirAllNoFollow(t *testing.T) {
	root := t.TempDir()
	got, err := MkdirAllNoFollow(root, "a/b/./c", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "a", "b", "c"); got != want {
		t.Fatalf("path %q, want %q", got, want)
	}
	if st, err := os.Lstat(got); err != nil || !st.IsDir() {
		t.Fatalf("not a folder: %v", err)
	}
	// Existing chain is fine; empty rel returns the root.
	if _, err := MkdirAllNoFollow(root, "a/b/c", 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := MkdirAllNoFollow(root, "", 0o755); err != nil || got != root {
		t.Fatalf("empty rel: %q %v", got, err)
	}

	// Relative root is made absolute.
	t.Chdir(root)
	got, err = MkdirAllNoFollow(".", "rel/x", 0o755)
	if err != nil || got != filepath.Join(root, "rel", "x") {
		t.Fatalf("relative root: %q %v", got, err)
	}
}

func TestMkdirAllNoFollowRefusals(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootLink := filepath.Join(base, "rootlink")
	if err := os.Symlink(root, rootLink); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		root, rel string
		code      errcode.Code
	}{
		{root, "/abs/path", errcode.PathTraversal},
		{root, "../outside/x", errcode.PathTraversal},
		{root, "a/../../outside", errcode.PathTraversal},
		{root, "link", errcode.SymlinkNotAllowed},
		{root, "link/sub", errcode.SymlinkNotAllowed},
		{root, "file/sub", errcode.InvalidPath},
		{root, "file", errcode.InvalidPath},
		{rootLink, "x", errcode.SymlinkNotAllowed},
		{filepath.Join(base, "missing"), "x", errcode.IOError},
		{filepath.Join(root, "file"), "x", errcode.InvalidPath},
		{root, "a\x00b", errcode.InvalidPath},
		{root, "\x00b", errcode.InvalidPath},
	}
	for _, c := range cases {
		t.Run(c.rel, func(t *testing.T) {
			_, err := MkdirAllNoFollow(c.root, c.rel, 0o755)
			wantCode(t, err, c.code)
		})
	}
	mustNoEntries(t, outside)
	if _, err := os.Stat(filepath.Join(base, "missing")); !os.IsNotExist(err) {
		t.Fatal("missing root was created")
	}
}

func TestCreateTempIn(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 20 {
		f, err := CreateTempIn(dir, "up-*.part")
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f.Name())
		if !strings.HasPrefix(name, "up-") || !strings.HasSuffix(name, ".part") || seen[name] {
			t.Fatalf("bad or repeated name %q", name)
		}
		seen[name] = true
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", st.Mode())
		}
		if _, err := f.WriteString("hello"); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if f, err := CreateTempIn(dir, "noglob"); err != nil || !strings.HasPrefix(filepath.Base(f.Name()), "noglob") {
		t.Fatalf("pattern without star: %v", err)
	} else {
		f.Close()
	}
	_, err := CreateTempIn(dir, "a/b*")
	wantCode(t, err, errcode.InvalidPath)

	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	_, err = CreateTempIn(link, "x*")
	wantCode(t, err, errcode.SymlinkNotAllowed)
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "out.bin")

	write := func(s string) *os.File {
		t.Helper()
		f, err := CreateTempIn(dir, ".tmp-*")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		return f
	}
	onlyFiles := func(want ...string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(want)
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Fatalf("folder holds %v, want %v", names, want)
		}
	}

	if err := Commit(write("one"), final, false); err != nil {
		t.Fatal(err)
	}
	onlyFiles("out.bin")
	// No-replace onto an existing file: OutputExists, temp gone, file intact.
	err := Commit(write("two"), final, false)
	wantCode(t, err, errcode.OutputExists)
	onlyFiles("out.bin")
	if b, _ := os.ReadFile(final); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
	// Replace.
	if err := Commit(write("three"), final, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "three" {
		t.Fatalf("content %q", b)
	}
	onlyFiles("out.bin")

	// A symbolic link at final is never written through, with or without replace.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	linkPath := filepath.Join(dir, "link.bin")
	if err := os.Symlink(victim, linkPath); err != nil {
		t.Fatal(err)
	}
	wantCode(t, Commit(write("evil"), linkPath, true), errcode.SymlinkNotAllowed)
	wantCode(t, Commit(write("evil"), linkPath, false), errcode.OutputExists)
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim changed: %q", b)
	}
	onlyFiles("out.bin", "link.bin")

	// Folder at final.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	wantCode(t, Commit(write("x"), filepath.Join(dir, "sub"), true), errcode.InvalidPath)
	onlyFiles("out.bin", "link.bin", "sub")

	// Commit closes the file.
	f := write("closed")
	if err := Commit(f, filepath.Join(dir, "c.bin"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("file still open after Commit")
	}

	// Across folders on one file system.
	other := filepath.Join(dir, "sub")
	if err := Commit(write("moved"), filepath.Join(other, "m.bin"), false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "m.bin")); string(b) != "moved" {
		t.Fatalf("content %q", b)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lock.yaml")
	if err := WriteAtomic(p, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("bb"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "bb" || st.Mode().Perm() != 0o640 {
		t.Fatalf("got %q %v", b, st.Mode())
	}

	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(victim, link)
	wantCode(t, WriteAtomic(link, []byte("evil"), 0o644), errcode.SymlinkNotAllowed)
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatal("wrote through symlink")
	}
	// A symlinked folder is refused too.
	linkDir := filepath.Join(t.TempDir(), "d")
	os.Symlink(dir, linkDir)
	wantCode(t, WriteAtomic(filepath.Join(linkDir, "x"), []byte("x"), 0o644), errcode.SymlinkNotAllowed)

	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("leftovers: %v", ents)
	}
}

func TestWriteUniqueSequential(t *testing.T) {
	dir := t.TempDir()
	var got []string
	for i := range 3 {
		p, err := WriteUnique(dir, "20261130_010203_abcdef01", ".json", []byte(strconv.Itoa(i)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(p))
	}
	want := []string{"20261130_010203_abcdef01.json", "20261130_010203_abcdef01_2.json", "20261130_010203_abcdef01_3.json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	for i, n := range want {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if string(b) != strconv.Itoa(i) {
			t.Fatalf("%s holds %q", n, b)
		}
		st, _ := os.Stat(filepath.Join(dir, n))
		if st.Mode().Perm() != 0o644 {
			t.Fatalf("mode %v", st.Mode())
		}
	}
	// A dangling symlink occupying the first name is skipped, not followed.
	d2 := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	os.Symlink(target, filepath.Join(d2, "r.json"))
	p, err := WriteUnique(d2, "r", ".json", []byte("x"), 0o644)
	if err != nil || filepath.Base(p) != "r_2.json" {
		t.Fatalf("got %q %v", p, err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatal("wrote through dangling symlink")
	}
	// Bad names and symlinked folders.
	_, err = WriteUnique(dir, "a/b", ".json", nil, 0o644)
	wantCode(t, err, errcode.InvalidPath)
	_, err = WriteUnique(dir, "..", "", nil, 0o644)
	wantCode(t, err, errcode.InvalidPath)
	linkDir := filepath.Join(t.TempDir(), "l")
	os.Symlink(dir, linkDir)
	_, err = WriteUnique(linkDir, "x", ".json", nil, 0o644)
	wantCode(t, err, errcode.SymlinkNotAllowed)
}

func TestWriteUniqueConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	const n = 32
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			paths[i], errs[i] = WriteUnique(dir, "same", ".json", []byte(fmt.Sprintf("writer %d", i)), 0o644)
		})
	}
	wg.Wait()
	checkUnique(t, dir, n, paths, errs, "writer ")
}

func checkUnique(t *testing.T, dir string, n int, paths []string, errs []error, prefix string) {
	t.Helper()
	seen := map[string]bool{}
	for i := range paths {
		if errs != nil && errs[i] != nil {
			t.Fatal(errs[i])
		}
		if paths[i] != "" {
			if seen[paths[i]] {
				t.Fatalf("two writers got %s", paths[i])
			}
			seen[paths[i]] = true
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string]bool{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temp left behind: %s", e.Name())
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if !strings.HasPrefix(string(b), prefix) || contents[string(b)] {
			t.Fatalf("%s holds %q", e.Name(), b)
		}
		contents[string(b)] = true
	}
	if len(ents) != n {
		t.Fatalf("%d files, want %d", len(ents), n)
	}
}

// TestWriteUniqueConcurrentProcesses runs the test binary as several writer
// processes that all race for the same receipt name.
func TestWriteUniqueConcurrentProcesses(t *testing.T) {
	if dir := os.Getenv("SAFEFILE_WRITER_DIR"); dir != "" {
		id := os.Getenv("SAFEFILE_WRITER_ID")
		for i := range 8 {
			if _, err := WriteUnique(dir, "race", ".json", []byte("proc "+id+"."+strconv.Itoa(i)), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	const procs = 4
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteUniqueConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "SAFEFILE_WRITER_DIR="+dir, "SAFEFILE_WRITER_ID="+strconv.Itoa(p))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer process: %v %s", err, c.Stderr)
		}
	}
	checkUnique(t, dir, procs*8, nil, nil, "proc ")
}

// TestSymlinkSwapRace keeps swapping a folder below the root for a symbolic
// link to an outside folder while writers walk into it. Whatever wins the
// race, nothing may ever land outside.
func TestSymlinkSwapRace(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	sub := filepath.Join(root, "sub")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.RemoveAll(sub)
			os.Symlink(outside, sub)
			time.Sleep(50 * time.Microsecond)
			os.Remove(sub)
			os.Mkdir(sub, 0o755)
			time.Sleep(50 * time.Microsecond)
		}
	})
	// Run until both outcomes were seen a few times, so the race really
	// happened; the deadline is only a hang guard.
	deadline := time.Now().Add(30 * time.Second)
	var ok, refused int
	for ok < 5 || refused < 5 {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("race not exercised: %d writes through, %d refused", ok, refused)
		}
		d, err := OpenDir(root, "sub/deeper", true, 0o755)
		if err != nil {
			refused++
			continue
		}
		if err := d.WriteAtomic("f.bin", []byte("x"), 0o644); err == nil {
			ok++
		}
		if _, err := d.WriteUnique("u", ".json", []byte("x"), 0o644); err != nil {
			refused++
		}
		d.Close()
	}
	close(stop)
	wg.Wait()
	mustNoEntries(t, outside)
}

func TestDirOpenFile(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "f"), []byte("data"), 0o644)
	os.Symlink(filepath.Join(root, "f"), filepath.Join(root, "l"))
	os.Mkdir(filepath.Join(root, "d"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(root, "p"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.OpenFile("f")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	n, _ := f.Read(b)
	f.Close()
	if string(b[:n]) != "data" {
		t.Fatalf("read %q", b[:n])
	}
	_, err = d.OpenFile("l")
	wantCode(t, err, errcode.SymlinkNotAllowed)
	_, err = d.OpenFile("d")
	wantCode(t, err, errcode.InvalidPath)
	_, err = d.OpenFile("p")
	wantCode(t, err, errcode.InvalidPath)
	_, err = d.OpenFile("missing")
	wantCode(t, err, errcode.IOError)
	if !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("missing file should unwrap to ErrNotExist: %v", err)
	}
	if m, err := d.Lstat("l"); err != nil || m&os.ModeSymlink == 0 {
		t.Fatalf("Lstat: %v %v", m, err)
	}
	// Non-creating open of a missing folder fails without creating it.
	_, err = OpenDir(root, "nope/x", false, 0)
	wantCode(t, err, errcode.IOError)
	if _, err := os.Stat(filepath.Join(root, "nope")); !os.IsNotExist(err) {
		t.Fatal("created a folder without create")
	}
}

func errorsUnwrapAll(err error) error {
	var pe *os.PathError
	for e := err; e != nil; {
		if p, ok := e.(*os.PathError); ok {
			pe = p
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if pe == nil {
		return err
	}
	return pe
}

func TestLongNames(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("é", 120) // 240 bytes
	p, err := WriteUnique(dir, long, ".json", []byte("x"), 0o644)
	if err != nil || filepath.Base(p) != long+".json" {
		t.Fatalf("%q %v", p, err)
	}
	if err := WriteAtomic(filepath.Join(dir, long+"a"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = WriteUnique(dir, "a*b", "", []byte("x"), 0o644)
	if err != nil || filepath.Base(p) != "a*b" {
		t.Fatalf("%q %v", p, err)
	}
}

// Commit with replace used to rename over anything that was neither a link
// nor a folder: 'epack pull -o /dev/null --force' run as root replaced the
// device node with the pack. Only a regular file may be replaced.
func TestCommitReplaceOnlyRegularFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(path string) error
	}{
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }},
		{"socket", func(p string) error {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Bind(fd, &unix.SockaddrUnix{Name: p})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			final := filepath.Join(dir, "out")
			if err := tc.make(final); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(final)
			if err != nil {
				t.Fatal(err)
			}
			f, err := CreateTempIn(dir, ".tmp-*")
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("data")
			err = Commit(f, final, true)
			wantCode(t, err, errcode.InvalidPath)
			after, err := os.Lstat(final)
			if err != nil || after.Mode() != before.Mode() {
				t.Fatalf("%s was replaced: %v %v", tc.name, after, err)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Fatalf("temp file left: %v", ents)
			}
		})
	}
}

// TestCreateTempNames: the last "*" of the pattern (wherever it is, the
// first byte included) is replaced by the random part; without a "*" the
// random part is appended. The random part is base 36.
func TestCreateTempNames(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct{ pattern, want string }{
		{"up-*.part", `^up-[0-9a-z]+\.part$`},
		{"*.part", `^[0-9a-z]+\.part$`},
		{"*", `^[0-9a-z]+$`},
		{"a*b*c", `^a\*b[0-9a-z]+c$`},
		{"x*", `^x[0-9a-z]+$`},
		{"noglob", `^noglob[0-9a-z]+$`},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			f, err := d.CreateTemp(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			name := filepath.Base(f.Name())
			if !regexp.MustCompile(tc.want).MatchString(name) {
				t.Fatalf("pattern %q gave %q, want %s", tc.pattern, name, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("the file is not where its name says: %v", err)
			}
		})
	}
}

// TestDirOpenFileIsBlocking: the O_NONBLOCK used to open without blocking on
// a FIFO is cleared on the file handed back, as for os.Open.
func TestDirOpenFileIsBlocking(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.OpenFile("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil || ferr != nil {
		t.Fatal(err, ferr)
	}
	if flags&unix.O_NONBLOCK != 0 {
		t.Fatalf("file flags %#x still hold O_NONBLOCK", flags)
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		t.Fatalf("file flags %#x: not read-only", flags)
	}
}

// TestWriteUniqueLastName: base_<maxUnique> is the last name tried, and it
// is tried; once it is taken too, OutputExists and no temp file is left.
func TestWriteUniqueLastName(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := os.WriteFile(seed, []byte("taken"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := func(i int) string {
		if i == 1 {
			return "r.json"
		}
		return "r_" + strconv.Itoa(i) + ".json"
	}
	for i := 1; i < maxUnique; i++ {
		if err := os.Link(seed, filepath.Join(dir, name(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		step string
		want string       // file name written, "" for an error
		code errcode.Code // with want == ""
	}{
		{"only the last name is free", name(maxUnique), ""},
		{"every name is taken", "", errcode.OutputExists},
	} {
		t.Run(tc.step, func(t *testing.T) {
			p, err := WriteUnique(dir, "r", ".json", []byte(tc.step), 0o644)
			if tc.want == "" {
				wantCode(t, err, tc.code, name(maxUnique))
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Base(p) != tc.want {
					t.Fatalf("wrote %s, want %s", p, tc.want)
				}
				if b, _ := os.ReadFile(p); string(b) != tc.step {
					t.Fatalf("%s holds %q", p, b)
				}
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != maxUnique+1 { // the names and seed
				t.Fatalf("%d entries, want %d", len(ents), maxUnique+1)
			}
		})
	}
}

// TestTempPattern: names up to 64 bytes are used as they are (even when
// they are not valid UTF-8); longer ones are cut to 64 bytes, dropping a
// character the cut splits.
func TestTempPattern(t *testing.T) {
	a63 := strings.Repeat("a", 63)
	for _, tc := range []struct{ name, want string }{
		{"lock.yaml", ".lock.yaml.*.tmp"},
		{a63 + "\xff", "." + a63 + "\xff.*.tmp"},
		{a63 + "b", "." + a63 + "b.*.tmp"},
		{a63 + "bc", "." + a63 + "b.*.tmp"},
		{a63 + "é", "." + a63 + ".*.tmp"},
		{strings.Repeat("é", 40), "." + strings.Repeat("é", 32) + ".*.tmp"},
	} {
		if got := tempPattern(tc.name); got != tc.want {
			t.Errorf("tempPattern(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCommitReportsFolderSync: after the rename, Commit syncs the target
// folder and then (when it is another one) the source folder, and a failure
// of either is returned. An O_PATH handle names entries like a folder handle
// but cannot be synced (EBADF), so it stands in for a folder whose fsync
// fails.
func TestCommitReportsFolderSync(t *testing.T) {
	open := func(t *testing.T, path string, unsyncable bool) *Dir {
		t.Helper()
		flags := dirFlags
		if unsyncable {
			flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		fd, err := unix.Open(path, flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		d := &Dir{fd: fd, path: path}
		t.Cleanup(func() { d.Close() })
		return d
	}
	for _, tc := range []struct {
		name                 string
		badSource, badTarget bool
		fails                bool
	}{
		{"both folders sync", false, false, false},
		{"source folder fails", true, false, true},
		{"target folder fails", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcPath, dstPath := t.TempDir(), t.TempDir()
			src, dst := open(t, srcPath, tc.badSource), open(t, dstPath, tc.badTarget)
			tmp, err := os.CreateTemp(srcPath, ".t-*")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tmp.WriteString(tc.name); err != nil {
				t.Fatal(err)
			}
			err = dst.CommitFrom(src, tmp, "out", false)
			if tc.fails {
				wantCode(t, err, errcode.IOError, "syncing folder")
				if !errors.Is(err, unix.EBADF) {
					t.Fatalf("not the sync's error: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// The rename came first: the data is in place either way.
			if b, err := os.ReadFile(filepath.Join(dstPath, "out")); err != nil || string(b) != tc.name {
				t.Fatalf("out holds %q (%v)", b, err)
			}
			mustNoEntries(t, srcPath)
		})
	}
}
