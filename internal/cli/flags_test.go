package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/spf13/cobra"
)

// parseWith runs args through a root holding only the command mk builds,
// with a fake run function that records the parsed options instead of
// running anything. It returns the options (nil when the run function was
// not reached) and the error.
func parseWith[O any](t *testing.T, mk func(*Globals, func(context.Context, O) error) *cobra.Command, args ...string) (*Globals, any, error) {
	t.Helper()
	ios, _, _, _ := NewTestIOStreams()
	g := &Globals{IO: ios}
	root := newRootCmd(g)
	var got any
	root.AddCommand(mk(g, func(_ context.Context, o O) error { got = o; return nil }))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return g, got, err
}

// clearEnv removes the variables that change flag defaults and globals.
func clearEnv(t *testing.T) {
	for _, k := range []string{"EPACK_INSECURE_ALLOW_UNPINNED", "EPACK_NO_REDACT", "CI", "GITHUB_ACTIONS", "NO_COLOR"} {
		t.Setenv(k, "")
	}
}

func remoteWhoami(g *Globals, f func(context.Context, *whoamiOptions) error) *cobra.Command {
	return newCmdRemote(g, nil, f)
}

func remoteList(g *Globals, f func(context.Context, *remoteListOptions) error) *cobra.Command {
	return newCmdRemote(g, f, nil)
}

// TestFlagsParse parses every command's flags and arguments into its
// options struct. No adapter runs, no file is touched.
func TestFlagsParse(t *testing.T) {
	clearEnv(t)
	type tc struct {
		name string
		args []string
		run  func(t *testing.T, args []string) (*Globals, any, error)
		want func(g *Globals) any
	}
	on := func(mk any) func(t *testing.T, args []string) (*Globals, any, error) {
		return func(t *testing.T, args []string) (*Globals, any, error) {
			switch mk := mk.(type) {
			case func(*Globals, func(context.Context, *pushOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *pullOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *buildOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *verifyOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *inspectOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *lockOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *syncOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *initOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *jobsOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *whoamiOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			case func(*Globals, func(context.Context, *remoteListOptions) error) *cobra.Command:
				return parseWith(t, mk, args...)
			}
			t.Fatalf("no parser for %T", mk)
			return nil, nil, nil
		}
	}
	cases := []tc{
		{"push: arguments and every flag",
			[]string{"push", "origin", "dist/a.epack", "--env", "prod", "--workspace", "acme", "--label", "a,b", "--label", "c",
				"--notes", "n", "--runs-path", "r/*.json", "--no-runs", "-y", "--dry-run", "-d", "--frozen", "--insecure-allow-unpinned",
				"--parallel", "8", "--part-size", "32MiB"},
			on(newCmdPush), func(g *Globals) any {
				return &pushOptions{g: g, Remote: "origin", PackArg: "dist/a.epack", Env: "prod", Workspace: "acme", Notes: "n",
					Labels: []string{"a", "b", "c"}, RunsPaths: []string{"r/*.json"}, NoRuns: true, Yes: true, DryRun: true,
					Detach: true, Frozen: true, AllowUnpinned: true, Parallel: 8, PartSize: 32 << 20}
			}},
		{"push: defaults", []string{"push", "o", "p.epack"}, on(newCmdPush),
			func(g *Globals) any { return &pushOptions{g: g, Remote: "o", PackArg: "p.epack", Parallel: 4} }},
		{"pull: ref and flags",
			[]string{"pull", "origin", "rel_1", "-o", "out.epack", "--digest", "sha256:ab", "--release", "rel_2", "--version", "v1",
				"--env", "e", "--workspace", "w", "--force", "--verify=false", "--dry-run", "-d", "--frozen", "-y", "--insecure-allow-unpinned", "--parallel", "2"},
			on(newCmdPull), func(g *Globals) any {
				return &pullOptions{g: g, Remote: "origin", Positional: "rel_1", Output: "out.epack", Digest: "sha256:ab", Release: "rel_2",
					Version: "v1", Env: "e", Workspace: "w", Force: true, Verify: false, DryRun: true, Detach: true, Frozen: true, Yes: true, AllowUnpinned: true, Parallel: 2}
			}},
		{"pull: defaults verify", []string{"pull", "origin"}, on(newCmdPull),
			func(g *Globals) any { return &pullOptions{g: g, Remote: "origin", Verify: true, Parallel: 4} }},
		{"build", []string{"build", "out.epack", "a.json", "b.csv", "--stream", "acme/prod", "--file", "x:y/z", "--file", "p:q",
			"--stdin", "s.json", "--source", "aws:1.0", "--content-type", "application/json"}, on(newCmdBuild),
			func(g *Globals) any {
				return &buildOptions{g: g, Out: "out.epack", Paths: []string{"a.json", "b.csv"}, Stream: "acme/prod",
					Files: []string{"x:y/z", "p:q"}, StdinDest: "s.json", Sources: []string{"aws:1.0"}, ContentType: "application/json"}
			}},
		{"verify", []string{"verify", "a.epack"}, on(newCmdVerify),
			func(g *Globals) any { return &verifyOptions{g: g, Path: "a.epack"} }},
		{"inspect", []string{"inspect", "a.epack"}, on(newCmdInspect),
			func(g *Globals) any { return &inspectOptions{g: g, Path: "a.epack"} }},
		{"lock: named remotes", []string{"lock", "a", "b"}, on(newCmdLock),
			func(g *Globals) any { return &lockOptions{g: g, Remotes: []string{"a", "b"}} }},
		{"lock: all", []string{"lock"}, on(newCmdLock),
			func(g *Globals) any { return &lockOptions{g: g, Remotes: []string{}} }},
		{"sync", []string{"sync", "origin", "--frozen", "--insecure-skip-verify"}, on(newCmdSync),
			func(g *Globals) any {
				return &syncOptions{g: g, Remotes: []string{"origin"}, Frozen: true, InsecureSkipVerify: true}
			}},
		{"init", []string{"init", "--stream", "acme/soc2", "--force"}, on(newCmdInit),
			func(g *Globals) any { return &initOptions{g: g, Stream: "acme/soc2", Force: true} }},
		{"jobs: list", []string{"jobs"}, on(newCmdJobs),
			func(g *Globals) any { return &jobsOptions{g: g} }},
		{"jobs: one", []string{"jobs", "job_1"}, on(newCmdJobs),
			func(g *Globals) any { return &jobsOptions{g: g, Named: true, ID: "job_1"} }},
		{"remote whoami", []string{"remote", "whoami", "origin", "--frozen", "--insecure-allow-unpinned"}, on(remoteWhoami),
			func(g *Globals) any {
				return &whoamiOptions{g: g, Remotes: []string{"origin"}, Frozen: true, AllowUnpinned: true}
			}},
		{"remote list", []string{"remote", "ls"}, on(remoteList),
			func(g *Globals) any { return &remoteListOptions{g: g} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, got, err := c.run(t, c.args)
			if err != nil {
				t.Fatalf("parse %v: %v", c.args, err)
			}
			if want := c.want(g); !reflect.DeepEqual(got, want) {
				t.Fatalf("options\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestFlagsGlobals checks the persistent flags reach the Globals every
// options struct points at.
func TestFlagsGlobals(t *testing.T) {
	clearEnv(t)
	g, got, err := parseWith(t, newCmdVerify, "verify", "a.epack", "--json", "-q", "-v", "--no-redact", "--ci", "--no-color")
	if err != nil {
		t.Fatal(err)
	}
	if o := got.(*verifyOptions); o.g != g || !g.JSON || !g.Quiet || !g.Verbose || !g.NoRedact || !g.CI || !g.NoColor || g.IO.ColorEnabled() {
		t.Fatalf("globals %+v", g)
	}
}

// TestUsageErrorsAreCoded: every kind of usage mistake is an InvalidInput
// error (exit 2) by its code, and the command does not run.
func TestUsageErrorsAreCoded(t *testing.T) {
	clearEnv(t)
	for _, c := range []struct {
		name string
		args []string
		run  func(t *testing.T, args []string) (*Globals, any, error)
	}{
		{"unknown flag", []string{"verify", "a.epack", "--bogus"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdVerify, a...) }},
		{"unknown shorthand", []string{"verify", "a.epack", "-Z"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdVerify, a...) }},
		{"bad flag value", []string{"pull", "origin", "--verify=maybe"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdPull, a...) }},
		{"flag without value", []string{"push", "o", "p", "--env"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdPush, a...) }},
		{"blank name flag", []string{"push", "o", "p", "--workspace", " "}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdPush, a...) }},
		{"too few arguments", []string{"push", "o"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdPush, a...) }},
		{"too many arguments", []string{"verify", "a", "b"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdVerify, a...) }},
		{"no arguments allowed", []string{"init", "x"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdInit, a...) }},
		{"at most one argument", []string{"jobs", "a", "b"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdJobs, a...) }},
		{"build without output", []string{"build"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdBuild, a...) }},
		{"unknown command", []string{"verfiy", "a.epack"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, newCmdVerify, a...) }},
		{"unknown subcommand", []string{"remote", "bogus"}, func(t *testing.T, a []string) (*Globals, any, error) { return parseWith(t, remoteList, a...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := c.run(t, c.args)
			if got != nil {
				t.Fatalf("the command ran with %+v", got)
			}
			if !errcode.Has(err, errcode.InvalidInput) || exitstatus.Of(err) != exitstatus.BadInput {
				t.Fatalf("err = %v (code %q, exit %d), want %s and exit %d", err, errcode.Of(err), exitstatus.Of(err), errcode.InvalidInput, exitstatus.BadInput)
			}
			if errcode.HintOf(err) == "" {
				t.Errorf("no hint: %v", err)
			}
		})
	}
}

// The unknown command error names close commands, as cobra's does.
func TestUnknownCommandSuggests(t *testing.T) {
	clearEnv(t)
	_, _, err := parseWith(t, newCmdVerify, "verfiy")
	if err == nil || !strings.Contains(err.Error(), "Did you mean this?\n\tverify") {
		t.Fatalf("err = %v", err)
	}
}

func TestIOStreams(t *testing.T) {
	clearEnv(t)
	ios, in, out, errOut := NewTestIOStreams()
	if ios.In != in || ios.Out != out || ios.ErrOut != errOut || ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.IsStderrTTY() || ios.ColorEnabled() || ios.CanPrompt() {
		t.Fatalf("test streams %+v", ios)
	}
	for _, c := range []struct {
		name      string
		tty       bool
		env, flag string
		color     bool
	}{
		{name: "terminal", tty: true, color: true},
		{name: "pipes", tty: false, color: false},
		{name: "--no-color", tty: true, flag: "--no-color", color: false},
		{name: "NO_COLOR", tty: true, env: "NO_COLOR", color: false},
		{name: "CI", tty: true, env: "CI", color: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv(c.env, "1")
			}
			ios, _, out, _ := NewTestIOStreams()
			ios.SetTTY(c.tty, c.tty, c.tty)
			g := &Globals{IO: ios}
			root := newRootCmd(g)
			root.AddCommand(newCmdVerify(g, func(context.Context, *verifyOptions) error {
				g.out("%s\n", g.okMark())
				return nil
			}))
			args := []string{"verify", "a.epack"}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if ios.ColorEnabled() != c.color || strings.Contains(out.String(), "\x1b[") != c.color {
				t.Fatalf("colour %v, output %q, want colour %v", ios.ColorEnabled(), out.String(), c.color)
			}
		})
	}
}
