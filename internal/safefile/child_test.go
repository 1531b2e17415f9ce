//go:build unix

package safefile

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Some properties are about the process's own descriptors (which numbers a
// Dir holds, whether stdin or stdout survive a Close, what happens when the
// descriptor table is full). Those cases run in a child process of the test
// binary, so the test process keeps its own descriptors intact.

const childCaseEnv = "SAFEFILE_CHILD_CASE"

// childCases maps a case name to what the child runs; a non-nil error makes
// the child exit 1 with it on stderr.
var childCases = map[string]func(dir string) error{
	"close releases the handle":       childCloseReleases,
	"second close touches nothing":    childCloseTwice,
	"close of handle 0":               childCloseHandleZero,
	"close of a nil Dir":              childCloseNil,
	"commit with one descriptor left": childCommitLastDescriptor,
	"commit elsewhere with one left":  childCommitOtherFolderAtLimit,
}

// A child started by runChild runs only its case, before any test.
func init() {
	name := os.Getenv(childCaseEnv)
	if name == "" {
		return
	}
	run, ok := childCases[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child case %q\n", name)
		os.Exit(2)
	}
	if err := run(os.Getenv("SAFEFILE_CHILD_DIR")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, errChildSetup) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	os.Exit(0)
}

var errChildSetup = errors.New("child setup")

// runChild runs one child case with a fresh folder and fails the test with
// the child's output unless it exits 0.
func runChild(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childCaseEnv+"="+name, "SAFEFILE_CHILD_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Skipf("child could not set up: %s", out)
	}
	if err != nil {
		t.Fatalf("child %q: %v\n%s", name, err, out)
	}
}

// isOpen reports whether fd is an open descriptor of this process.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return !errors.Is(err, unix.EBADF)
}

func childCloseReleases(dir string) error {
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		return err
	}
	fd := d.fd
	if err := d.Close(); err != nil {
		return err
	}
	if isOpen(fd) {
		return fmt.Errorf("descriptor %d still open after Close", fd)
	}
	return nil
}

func childCloseTwice(dir string) error {
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("second Close: %v", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if !isOpen(fd) {
			return fmt.Errorf("a second Close closed descriptor %d", fd)
		}
	}
	return nil
}

// A process started with stdin closed gets descriptor 0 for the first
// folder it opens; Close must release that one too.
func childCloseHandleZero(dir string) error {
	if err := unix.Close(0); err != nil {
		return fmt.Errorf("%w: closing stdin: %v", errChildSetup, err)
	}
	d, err := OpenDir(dir, "", false, 0)
	if err != nil {
		return err
	}
	if d.fd != 0 {
		d.Close()
		return fmt.Errorf("%w: the folder got descriptor %d, not 0", errChildSetup, d.fd)
	}
	if err := d.Close(); err != nil {
		return err
	}
	if isOpen(0) {
		return errors.New("descriptor 0 still open after Close")
	}
	return nil
}

func childCloseNil(string) error {
	var d *Dir
	return d.Close()
}

// fillDescriptors lowers the soft descriptor limit and opens /dev/null until
// the table is full, then frees exactly one slot. The returned function
// closes the filler and restores the limit.
func fillDescriptors() (func(), error) {
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		return nil, fmt.Errorf("%w: %v", errChildSetup, err)
	}
	lim := saved
	lim.Cur = min(lim.Max, 128)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("%w: %v", errChildSetup, err)
	}
	var fds []int
	undo := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &saved)
	}
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) {
			break
		}
		if err != nil {
			undo()
			return nil, fmt.Errorf("%w: %v", errChildSetup, err)
		}
		fds = append(fds, fd)
	}
	if len(fds) == 0 {
		undo()
		return nil, fmt.Errorf("%w: no descriptor could be opened", errChildSetup)
	}
	unix.Close(fds[len(fds)-1])
	fds = fds[:len(fds)-1]
	return undo, nil
}

// Commit into the temp file's own folder opens that folder once: it still
// works when a single descriptor is left.
func childCommitLastDescriptor(dir string) error {
	tmp, err := CreateTempIn(dir, ".t-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString("last fd"); err != nil {
		return err
	}
	// final names the folder differently (relative, with a "." step) but
	// it is the same folder.
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("%w: %v", errChildSetup, err)
	}
	undo, err := fillDescriptors()
	if err != nil {
		tmp.Close()
		return err
	}
	err = Commit(tmp, filepath.Join(".", "out"), false)
	undo()
	if err != nil {
		return fmt.Errorf("Commit with one free descriptor: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil || string(b) != "last fd" {
		return fmt.Errorf("out holds %q (%v)", b, err)
	}
	return nil
}

// The counterpart: into another folder, Commit needs a second descriptor,
// and with only one left it fails cleanly (IOError, temp file removed).
func childCommitOtherFolderAtLimit(dir string) error {
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		return fmt.Errorf("%w: %v", errChildSetup, err)
	}
	tmp, err := CreateTempIn(dir, ".t-*")
	if err != nil {
		return err
	}
	undo, err := fillDescriptors()
	if err != nil {
		tmp.Close()
		return err
	}
	err = Commit(tmp, filepath.Join(other, "out"), false)
	undo()
	if err == nil {
		return errors.New("Commit into another folder succeeded with one free descriptor")
	}
	if !errors.Is(err, unix.EMFILE) {
		return fmt.Errorf("want EMFILE, got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "other" {
		return fmt.Errorf("%s holds %v after the failed Commit, want only other", dir, ents)
	}
	return nil
}

// TestDirClose: Close releases exactly the folder's descriptor, whatever its
// number (0 included), once; a second Close and a nil Dir touch nothing.
func TestDirClose(t *testing.T) {
	for _, name := range []string{
		"close releases the handle",
		"second close touches nothing",
		"close of handle 0",
		"close of a nil Dir",
	} {
		t.Run(name, func(t *testing.T) { runChild(t, name) })
	}
}

// TestCommitDescriptorBudget: Commit within one folder opens it once, so it
// works with a single free descriptor; across folders it needs two.
func TestCommitDescriptorBudget(t *testing.T) {
	for _, name := range []string{
		"commit with one descriptor left",
		"commit elsewhere with one left",
	} {
		t.Run(name, func(t *testing.T) { runChild(t, name) })
	}
}
