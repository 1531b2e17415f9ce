package testkit

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// Run executes a built program (e.g. filepath.Join(bin, "epack")) in dir with
// the test process's environment plus env (later entries win, so "NAME="
// clears a variable) and returns stdout, stderr and the exit status. A
// program that cannot be started fails the test.
func Run(t testing.TB, program, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", program, err)
	}
	return so.String(), se.String(), code
}
