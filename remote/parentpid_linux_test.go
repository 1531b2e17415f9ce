package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// parentPID reads the parent from /proc/<pid>/stat, also when the command
// name holds a ')' and spaces; an unknown pid gives -1.
func TestParentPID(t *testing.T) {
	if got := parentPID(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentPID(self) = %d, want %d", got, os.Getppid())
	}
	if got := parentPID(-5); got != -1 {
		t.Errorf("parentPID(-5) = %d, want -1", got)
	}
	// A child whose command name looks like the end of the name and more fields.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), "x) R 1 (y")
	if err := os.WriteFile(odd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if got := parentPID(cmd.Process.Pid); got != os.Getpid() {
		t.Errorf("parentPID(child %q) = %d, want %d", filepath.Base(odd), got, os.Getpid())
	}
}
