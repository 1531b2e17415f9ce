package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interruptedContext is a context ended the way cancelOnSignal ends it.
func interruptedContext(sig syscall.Signal) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&interrupted{sig: sig})
	return ctx
}

// TestInterruptedBuildExitStatus runs 'epack build' with a context a
// signal ended: the exit status is 128+signal, one error line says it was
// interrupted (JSON: code canceled and the same exit_code), and the
// command leaves no pack and no temp file behind.
func TestInterruptedBuildExitStatus(t *testing.T) {
	for _, tc := range []struct {
		sig    syscall.Signal
		status int
		name   string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		dir := t.TempDir()
		t.Chdir(dir)
		os.WriteFile(filepath.Join(dir, "a.json"), []byte(`{"a":1}`), 0o644)
		for _, jsonMode := range []bool{false, true} {
			args := []string{"build", "out.epack", "a.json", "--stream", "acme/prod"}
			if jsonMode {
				args = append(args, "--json")
			}
			ios, _, out, errOut := NewTestIOStreams()
			code := RunWith(interruptedContext(tc.sig), args, ios)
			if code != tc.status {
				t.Fatalf("%s: exit %d, want %d\n%s", tc.name, code, tc.status, errOut)
			}
			wantLine := "Error: [canceled] interrupted by " + tc.name + ": build canceled\n"
			if errOut.String() != wantLine {
				t.Errorf("%s: stderr %q, want %q", tc.name, errOut, wantLine)
			}
			if jsonMode {
				var obj struct {
					OK    bool `json:"ok"`
					Error struct {
						Code     string `json:"code"`
						ExitCode int    `json:"exit_code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(out.Bytes(), &obj); err != nil || obj.OK || obj.Error.Code != "canceled" || obj.Error.ExitCode != tc.status {
					t.Errorf("%s: JSON %s (%v)", tc.name, out, err)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("%s: the interrupted build left %v", tc.name, names)
			}
		}
	}
}

// TestFinishedCommandIgnoresLateSignal: a command that completes although a
// signal arrived exits 0; its work is done.
func TestFinishedCommandIgnoresLateSignal(t *testing.T) {
	ios, _, out, errOut := NewTestIOStreams()
	if code := RunWith(interruptedContext(syscall.SIGINT), []string{"version"}, ios); code != 0 || errOut.Len() != 0 || !strings.Contains(out.String(), "epack ") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestInterruptedExitErrorKeepsItsReport: a command that printed its own
// report (exitError) still exits 130 when interrupted, and the added error
// line does not quote the internal "exit status" text.
func TestInterruptedExitErrorKeepsItsReport(t *testing.T) {
	ios, _, _, errOut := NewTestIOStreams()
	g := &Globals{IO: ios}
	code := reportError(g, &interruptedError{in: &interrupted{sig: syscall.SIGINT}, err: &exitError{code: 1}})
	if code != 130 || strings.TrimSpace(errOut.String()) != "Error: [canceled] interrupted by SIGINT" {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

// TestInterruptedMessageNamesTheSignalOnce: the cancellation the
// libraries put at the end of their messages is not repeated.
func TestInterruptedMessageNamesTheSignalOnce(t *testing.T) {
	in := &interrupted{sig: syscall.SIGINT}
	for inner, want := range map[string]string{
		"download failed: transfer stopped: interrupted by SIGINT": "interrupted by SIGINT: download failed: transfer stopped",
		"build canceled: context canceled":                         "interrupted by SIGINT: build canceled",
		"context canceled":                                         "interrupted by SIGINT",
		"adapter exited: signal: interrupt":                        "interrupted by SIGINT: adapter exited: signal: interrupt",
	} {
		if got := (&interruptedError{in: in, err: errors.New(inner)}).Error(); got != want {
			t.Errorf("%q: %q, want %q", inner, got, want)
		}
	}
}

// TestCancelOnSignal sends the test process a real SIGINT while
// cancelOnSignal is installed: the context ends with the signal as its
// cause, and stop removes the handler.
func TestCancelOnSignal(t *testing.T) {
	ctx, stop := cancelOnSignal(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("SIGINT did not cancel the context")
	}
	in := interruptOf(ctx)
	if in == nil || in.status() != 130 || in.Error() != "interrupted by SIGINT" || !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("cause %v, interrupt %+v", context.Cause(ctx), in)
	}
	// Without a signal, stop ends the context with no interrupt.
	ctx2, stop2 := cancelOnSignal(context.Background())
	stop2()
	if interruptOf(ctx2) != nil || ctx2.Err() == nil {
		t.Fatalf("after stop: %v %v", ctx2.Err(), context.Cause(ctx2))
	}
}
