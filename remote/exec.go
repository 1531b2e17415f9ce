package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/sealedexec"
)

// Limits and timeouts of one adapter call.
const (
	maxStdout                  = 10 << 20
	maxStderr                  = 1 << 20
	defaultCapabilitiesTimeout = 30 * time.Second
	defaultCommandTimeout      = 5 * time.Minute
	// waitDelay bounds how long we wait for the output pipes to close after
	// the process group was killed.
	waitDelay = 2 * time.Second
)

// runResult is what one adapter process produced.
type runResult struct {
	stdout   []byte
	exitCode int // -1 when killed by a signal
	stderr   string
}

// runSpec describes one process run.
type runSpec struct {
	sealed   *sealedexec.Sealed
	adapter  string
	command  string
	stdin    []byte // nil: no stdin (/dev/null)
	env      []string
	dir      string
	timeout  time.Duration
	stderr   io.Writer
	secrets  []string
	noRedact bool
}

// run executes the sealed adapter once: own process group, bounded output,
// the whole group killed on timeout, cancel, output overflow and after the
// adapter exits (nothing it started outlives the call).
func run(ctx context.Context, s runSpec) (*runResult, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var abortMu sync.Mutex
	var abortReason error
	abort := func(reason error) {
		abortMu.Lock()
		if abortReason == nil {
			abortReason = reason
		}
		abortMu.Unlock()
		cancel()
	}
	stdout := &limitBuffer{limit: maxStdout}
	stderr := newStderrRelay(s.stderr, s.adapter, s.secrets, s.noRedact, maxStderr, nil)

	// Our own pipes (not exec's): we know their inode, so an escaped
	// grandchild still holding them after the adapter exited can be found.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, errcode.Wrap(errcode.AdapterExecFailed, err, "adapter %q %s: creating pipes", s.adapter, s.command)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, errcode.Wrap(errcode.AdapterExecFailed, err, "adapter %q %s: creating pipes", s.adapter, s.command)
	}
	defer outR.Close()
	defer errR.Close()
	inodes := pipeInodes(outW, errW)
	stdout.onExceed = func() { abort(fmt.Errorf("stdout larger than %d bytes", maxStdout)) }
	stderr.onExceed = func() { abort(fmt.Errorf("stderr larger than %d bytes", maxStderr)) }

	var cmd *exec.Cmd
	start := func() error {
		var err error
		cmd, err = s.sealed.Command(cctx, s.command)
		if err != nil {
			return err
		}
		cmd.Env = s.env
		cmd.Dir = s.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return killGroup(cmd) }
		cmd.WaitDelay = waitDelay
		if s.stdin != nil {
			cmd.Stdin = bytes.NewReader(s.stdin)
		}
		cmd.Stdout = outW
		cmd.Stderr = errW
		return cmd.Start()
	}
	err = start()
	for i := 0; err != nil && sealedexec.IsTextBusy(err) && i < 3; i++ {
		time.Sleep(10 * time.Millisecond)
		err = start()
	}
	outW.Close()
	errW.Close()
	if err != nil {
		// exec refuses to start once the context has ended: report that
		// as what it is, like an end during the run (below).
		switch {
		case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, errcode.Wrap(errcode.Timeout, ctx.Err(), "adapter %q %s", s.adapter, s.command)
		case ctx.Err() != nil:
			return nil, errcode.Wrap(errcode.Canceled, ctx.Err(), "adapter %q %s", s.adapter, s.command)
		case cctx.Err() != nil:
			return nil, errcode.New(errcode.Timeout, "adapter %q %s: timed out after %s", s.adapter, s.command, s.timeout).
				WithHint("raise 'timeout:' of the remote in epack.yaml if the adapter is just slow")
		}
		return nil, errcode.Wrap(errcode.AdapterExecFailed, err, "adapter %q %s: starting", s.adapter, s.command)
	}
	readersDone := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); drain(stdout, outR) }()
		go func() { defer wg.Done(); drain(stderr, errR) }()
		wg.Wait()
		close(readersDone)
	}()

	// Kill whatever the adapter left in its group once it exits, before it
	// is reaped (see waitExitAndKillGroup).
	waitExitAndKillGroup(cmd.Process.Pid)
	waitErr := cmd.Wait()
	killGroupAfterWait(cmd.Process.Pid)
	held := false
	select {
	case <-readersDone:
	case <-time.After(waitDelay):
		// Something outside the group (setsid) still holds our pipes.
		held = true
		killPipeHolders(inodes)
		outR.Close()
		errR.Close()
		<-readersDone
	}
	stderr.Flush()

	res := &runResult{stdout: stdout.Bytes(), stderr: stderr.Tail(), exitCode: -1}
	if cmd.ProcessState != nil {
		res.exitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case abortReason != nil:
		return res, errcode.Wrap(errcode.AdapterExecFailed, abortReason, "adapter %q %s: killed", s.adapter, s.command)
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, errcode.Wrap(errcode.Timeout, ctx.Err(), "adapter %q %s", s.adapter, s.command)
		}
		return res, errcode.Wrap(errcode.Canceled, ctx.Err(), "adapter %q %s", s.adapter, s.command)
	case cctx.Err() != nil:
		return res, errcode.New(errcode.Timeout, "adapter %q %s: timed out after %s", s.adapter, s.command, s.timeout).
			WithHint("raise 'timeout:' of the remote in epack.yaml if the adapter is just slow")
	case held || errors.Is(waitErr, exec.ErrWaitDelay):
		return res, errcode.New(errcode.AdapterExecFailed, "adapter %q %s: output still held open after exit (a process it started escaped its process group)", s.adapter, s.command)
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return res, errcode.Wrap(errcode.AdapterExecFailed, waitErr, "adapter %q %s", s.adapter, s.command)
	}
	return res, nil
}

// drain copies r into w until EOF or until w refuses more (output limit),
// then closes r so a writer still going gets EPIPE.
func drain(w io.Writer, r *os.File) {
	_, _ = io.Copy(w, r)
	r.Close()
}

// killGroup kills the process group of cmd (the adapter is its leader).
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil
	}
	return err
}
