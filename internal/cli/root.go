// Package cli holds the cobra commands of the epack binary. It is a thin
// user of the public packages: behaviour lives in pack, push, pull, remote,
// lockfile …
//
// The tree is built explicitly: NewRootCmd adds every command, each made by
// a newCmdX(g, runF) constructor that parses flags and arguments into an
// xxxOptions struct and hands it to runF (runX in production, a recorder in
// tests). Streams, terminal and colour decisions live in IOStreams. Usage
// mistakes (unknown command or flag, bad value, wrong argument count) are
// errcode.InvalidInput errors, so the exit status comes from the code.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/version"
	"github.com/spf13/cobra"
)

// Globals are the persistent flags every command honours, with the streams
// they apply to. Every command's options struct points at the one Globals of
// its root.
type Globals struct {
	IO *IOStreams

	JSON     bool
	Quiet    bool
	NoColor  bool
	Verbose  bool
	NoRedact bool
	CI       bool

	// result is the command's JSON result, recorded in a detached job's record.
	result any
}

// envNoRedact turns off secret redaction like --no-redact.
const envNoRedact = "EPACK_NO_REDACT"

// NewRootCmd builds the epack command tree on ios, every command added
// explicitly. The returned Globals receive the persistent flags when the
// command runs.
func NewRootCmd(ios *IOStreams) (*cobra.Command, *Globals) {
	g := &Globals{IO: ios}
	root := newRootCmd(g)
	root.AddCommand(
		newCmdInit(g, nil),
		newCmdBuild(g, nil),
		newCmdVerify(g, nil),
		newCmdSign(g, nil),
		newCmdInspect(g, nil),
		newCmdPush(g, nil),
		newCmdPull(g, nil),
		newCmdLock(g, nil),
		newCmdRemote(g, nil, nil),
		newCmdSync(g, nil),
		newCmdJobs(g, nil),
		newCmdReleases(g, nil),
		newCmdLog(g, nil),
		newCmdGC(g, nil),
		newCmdHold(g, nil),
		newCmdList(g, nil),
		newCmdExtract(g, nil),
		newCmdDiff(g, nil),
		newCmdVersion(g, nil),
		newCmdDocs(g, nil),
	)
	registerCompletions(root, g)
	return root, g
}

// newRootCmd is the root command without subcommands: persistent flags,
// the decisions read from the environment, and coded usage errors.
func newRootCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "epack",
		Short: "Build, verify, push and pull evidence packs",
		Long: `epack publishes evidence packs (ZIP bundles of compliance evidence with
SHA-256 digests) to remote registries through remote adapters, and fetches
them back. Every pack is verified before it is pushed and after it is pulled.`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Any argument that is not a subcommand is an unknown command.
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			if os.Getenv(envNoRedact) != "" {
				g.NoRedact = true
			}
			if os.Getenv("CI") != "" || strings.EqualFold(os.Getenv("GITHUB_ACTIONS"), "true") {
				g.CI = true
			}
			if os.Getenv("NO_COLOR") != "" || g.CI || !g.IO.IsStderrTTY() || !g.IO.IsStdoutTTY() {
				g.NoColor = true
			}
			g.IO.SetColorEnabled(!g.NoColor)
		},
	}
	root.SetIn(g.IO.In)
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.ErrOut)
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "print machine-readable JSON on stdout")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print nothing but errors")
	pf.BoolVar(&g.NoColor, "no-color", false, "do not use colour (also NO_COLOR)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "print more detail")
	pf.BoolVar(&g.NoRedact, "no-redact", false, "do not redact secrets in adapter output (also EPACK_NO_REDACT)")
	pf.BoolVar(&g.CI, "ci", false, "CI mode: no animation, timestamps, no colour (also CI, GITHUB_ACTIONS)")
	root.SetFlagErrorFunc(flagError)
	return root
}

// Main runs epack with os.Args and returns the process exit status.
//
// SIGINT (Ctrl-C) and SIGTERM cancel the command's context: the libraries
// stop and remove what they had started to write (temp files, staged
// uploads), and a command that fails that way exits 128+signal, 130 for
// SIGINT and 143 for SIGTERM, as shells report a process killed by the
// signal. A command that still finishes successfully exits 0: its work is
// done. A second signal is not caught: it ends the process at once.
func Main(ctx context.Context, args []string) int {
	usePhysicalWorkDir()
	ctx, stop := cancelOnSignal(ctx)
	defer stop()
	return RunWith(ctx, args, SystemIOStreams())
}

// interrupted is the cause of the command's context ending when the
// process received a signal.
type interrupted struct{ sig os.Signal }

func (e *interrupted) Error() string { return "interrupted by " + signalName(e.sig) }

// status is 128 + the signal number, as a shell reports a killed process.
func (e *interrupted) status() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// cancelOnSignal returns ctx cancelled, with an *interrupted cause, by the
// first SIGINT or SIGTERM. After that first signal the handler is removed,
// so a second one has its default effect (the process ends). stop releases
// the handler.
func cancelOnSignal(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&interrupted{sig: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruptOf returns the signal that ended ctx, if one did.
func interruptOf(ctx context.Context) *interrupted {
	var in *interrupted
	if errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}

// usePhysicalWorkDir moves to the physical path of the current folder. A
// shell's $PWD may name it through a symbolic link (CI workspaces, macOS
// /tmp); epack refuses to write through links, so relative paths are
// resolved from the real folder instead. Links inside paths the user types
// are still refused.
func usePhysicalWorkDir() {
	wd, err := os.Getwd()
	if err != nil {
		return
	}
	real, err := filepath.EvalSymlinks(wd)
	if err != nil || real == wd {
		return
	}
	if os.Chdir(real) == nil {
		os.Setenv("PWD", real)
	}
}

// Run executes the CLI with explicit streams (used by tests) and returns the exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunWith(ctx, args, NewIOStreams(stdin, stdout, stderr))
}

// RunWith executes the CLI on ios and returns the exit status.
func RunWith(ctx context.Context, args []string, ios *IOStreams) int {
	root, g := NewRootCmd(ios)
	root.SetArgs(args)
	inJob := os.Getenv(envJobFile) != ""
	if inJob {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, jobTimeout)
		defer cancel()
	}
	err := root.ExecuteContext(ctx)
	code := 0
	if err != nil {
		if in := interruptOf(ctx); in != nil {
			err = &interruptedError{in: in, err: err}
		}
		code = reportError(g, err)
	}
	if inJob {
		finishJob(code, err, g.result)
	}
	return code
}

// exitError carries an exit status without a message (the command already printed).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// interruptedError is the error of a command that failed after a signal
// cancelled it: reported once as canceled, with the signal's exit status
// and without the hints of the errors the cancellation caused.
type interruptedError struct {
	in  *interrupted
	err error
}

func (e *interruptedError) Error() string {
	var ee *exitError
	if errors.As(e.err, &ee) {
		return e.in.Error() // the command printed its own report
	}
	// The inner message ends with the cancellation itself, as the
	// libraries word it; the report names the signal once.
	msg := e.err.Error()
	for _, tail := range []string{": " + e.in.Error(), ": " + context.Canceled.Error()} {
		msg = strings.TrimSuffix(msg, tail)
	}
	if msg == e.in.Error() || msg == context.Canceled.Error() {
		return e.in.Error()
	}
	return e.in.Error() + ": " + msg
}

func (e *interruptedError) Unwrap() error { return e.err }

// reportError prints err (JSON or human) and returns its exit status.
func reportError(g *Globals, err error) int {
	var ie *interruptedError
	interrupt := errors.As(err, &ie)
	var ee *exitError
	if errors.As(err, &ee) && !interrupt {
		return ee.code
	}
	status := exitstatus.Of(err)
	code := errcode.Of(err)
	if code == "" {
		code = errcode.Internal
	}
	hint := errcode.HintOf(err)
	if interrupt {
		status, code, hint = ie.in.status(), errcode.Canceled, ""
	}
	if g.JSON {
		obj := map[string]any{"ok": false, "error": map[string]any{"code": string(code), "message": err.Error(), "exit_code": status}}
		if hint != "" {
			obj["error"].(map[string]any)["hint"] = hint
		}
		writeJSON(g.IO.Out, obj)
	}
	// Messages and hints may carry text from adapters and registries.
	fmt.Fprintf(g.IO.ErrOut, "Error: [%s] %s\n", code, termSafe(err.Error()))
	if hint != "" {
		fmt.Fprintf(g.IO.ErrOut, "Hint: %s\n", termSafe(hint))
	}
	return status
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Human output helpers -------------------------------------------------------

// out prints a human line on stdout unless --quiet or --json.
func (g *Globals) out(format string, args ...any) {
	if g.Quiet || g.JSON {
		return
	}
	fmt.Fprintf(g.IO.Out, format, args...)
}

// info prints a progress/status line on stderr unless --quiet or --json.
func (g *Globals) info(format string, args ...any) {
	if g.Quiet || g.JSON {
		return
	}
	fmt.Fprintf(g.IO.ErrOut, format, args...)
}

// verbose prints on stderr only with --verbose (and not --quiet/--json).
func (g *Globals) verbose(format string, args ...any) {
	if !g.Verbose || g.Quiet || g.JSON {
		return
	}
	fmt.Fprintf(g.IO.ErrOut, format, args...)
}

// okMark returns "✓" or "[OK]" depending on colour settings.
func (g *Globals) okMark() string {
	if !g.IO.ColorEnabled() {
		return "[OK]"
	}
	return "\x1b[32m✓\x1b[0m"
}

// warnMark returns "!" or "[WARN]" depending on colour settings: for what
// did not happen although the command succeeded.
func (g *Globals) warnMark() string {
	if !g.IO.ColorEnabled() {
		return "[WARN]"
	}
	return "\x1b[33m!\x1b[0m"
}

// failMark returns "✗" or "[FAIL]" depending on colour settings.
func (g *Globals) failMark() string {
	if !g.IO.ColorEnabled() {
		return "[FAIL]"
	}
	return "\x1b[31m✗\x1b[0m"
}

// formatSize renders n bytes as "N B", "x.y KB", "x.y MB" or "x.y GB" (1024-based).
func formatSize(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(k*k*k))
}

// workingDir is the folder push and pull run in: the CLI reads the working
// directory once and passes it on (Options.ProjectDir), the libraries never
// read it themselves.
func workingDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "finding the current directory")
	}
	return dir, nil
}
