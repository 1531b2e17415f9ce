package cli_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/internal/cli"
	"github.com/evidencerelay/epack/internal/version"
)

// runIn runs the CLI in-process in dir and returns stdout, stderr and the
// exit status.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	var so, se bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &so, &se)
	return so.String(), se.String(), code
}

func TestVersionCommand(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runIn(t, dir, "version")
	if code != 0 || errOut != "" {
		t.Fatalf("epack version: exit %d\n%s%s", code, out, errOut)
	}
	info := version.Get()
	for _, want := range []string{"epack " + version.Version, "commit:     " + info.Commit, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("epack version lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runIn(t, dir, "version", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("epack version --json: exit %d, %v\n%s", code, err, out)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"arch", "commit", "go_version", "os", "version"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("JSON keys %v, want %v", keys, want)
	}
	if got["version"] != version.Version || got["go_version"] != runtime.Version() || got["os"] != runtime.GOOS || got["arch"] != runtime.GOARCH {
		t.Errorf("JSON %v", got)
	}

	out, _, code = runIn(t, dir, "--version")
	if code != 0 || strings.TrimSpace(out) != "epack version "+version.Version {
		t.Errorf("epack --version: exit %d %q", code, out)
	}
	if _, _, code := runIn(t, dir, "version", "extra"); code != 2 {
		t.Errorf("epack version extra: exit %d, want 2", code)
	}
}

// TestVersionCommitFromBuildInfo runs the binary the tests build (no
// -ldflags): its commit is the vcs.revision the go command stamped into it,
// with -dirty for a modified checkout, or "unknown" when it stamped none
// (-buildvcs=false, no git).
func TestVersionCommitFromBuildInfo(t *testing.T) {
	p := newProject(t, "")
	out, errOut, code := p.run(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var info version.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(filepath.Join(p.bin, "epack"))
	if err != nil {
		t.Fatal(err)
	}
	want := version.Unknown
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		want = rev
		if settings["vcs.modified"] == "true" {
			want += "-dirty"
		}
	}
	if info.Commit != want {
		t.Fatalf("commit %q, want %q (build settings %v)", info.Commit, want, settings)
	}
}

// visibleCommands lists the command paths of every command that gets a man
// page: the tree NewRootCmd builds plus the help and completion commands
// cobra adds when it runs, minus hidden ones.
func visibleCommands(t *testing.T) (visible, hidden []string) {
	ios, _, _, _ := cli.NewTestIOStreams()
	root, _ := cli.NewRootCmd(ios)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && !c.IsAvailableCommand() {
			if c.Hidden {
				hidden = append(hidden, c.CommandPath())
			}
			return
		}
		visible = append(visible, c.CommandPath())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return visible, hidden
}

// manRequests are the requests a generated page may start a line with.
var manRequests = regexp.MustCompile(`^\.(\\"|TH|SH|PP|TP|B|br|nf|fi)( |$)`)

// TestDocsManPages generates the man pages of the real command tree into a
// folder that does not exist yet and checks that every visible command, and
// no hidden one, has a page with the expected sections, that no line could
// be taken for a troff request it is not, and that generating twice gives
// the same bytes.
func TestDocsManPages(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "share", "man", "man1")
	out, errOut, code := runIn(t, root, "docs", "man", "share/man/man1")
	if code != 0 {
		t.Fatalf("epack docs man: exit %d\n%s%s", code, out, errOut)
	}
	visible, hidden := visibleCommands(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(visible) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%d pages for %d visible commands:\n%v\n%v", len(entries), len(visible), names, visible)
	}
	if !strings.Contains(out, "Wrote ") {
		t.Errorf("no summary: %q", out)
	}
	pages := map[string]string{}
	for _, path := range visible {
		name := strings.ReplaceAll(path, " ", "-")
		b, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if err != nil {
			t.Errorf("%s: no page: %v", path, err)
			continue
		}
		page := string(b)
		pages[name] = page
		lines := strings.Split(strings.TrimSuffix(page, "\n"), "\n")
		if !strings.HasPrefix(lines[1], `.TH "`+strings.ToUpper(strings.ReplaceAll(name, "-", `\-`))+`" 1 `) {
			t.Errorf("%s: title line %q", name, lines[1])
		}
		for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"} {
			if !strings.Contains(page, "\n.SH "+sec+"\n") {
				t.Errorf("%s: no %s section", name, sec)
			}
		}
		if want := "\n.SH NAME\n" + strings.ReplaceAll(name, "-", `\-`) + ` \- `; !strings.Contains(page, want) {
			t.Errorf("%s: NAME line is not %q", name, want)
		}
		for i, l := range lines {
			if (strings.HasPrefix(l, ".") && !manRequests.MatchString(l)) || strings.HasPrefix(l, "'") {
				t.Errorf("%s:%d: line read as a troff request: %q", name, i+1, l)
			}
		}
		for _, st := range []string{"0", "1", "2", "10", "11", "12", "13", "14", "15", "130"} {
			if !strings.Contains(page, "\n.B "+st+"\n") {
				t.Errorf("%s: exit status %s missing", name, st)
			}
		}
	}
	for _, path := range hidden {
		if _, err := os.Stat(filepath.Join(dir, strings.ReplaceAll(path, " ", "-")+".1")); err == nil {
			t.Errorf("hidden command %q has a page", path)
		}
	}
	push := pages["epack-push"]
	for _, want := range []string{
		"\n.SH OPTIONS\n", "\n.SH GLOBAL OPTIONS\n", "\n.SH EXAMPLES\n",
		"\n\\fB\\-\\-label\\fR \\fIstring\\fR\nrelease label (repeatable; commas split)\n",
		"\n\\fB\\-y\\fR, \\fB\\-\\-yes\\fR\n",
		// The push description has a line starting with ".epack/receipts".
		"\n\\&.epack/receipts/push/<remote>/.\n",
		"\\fBepack\\fR(1)",
	} {
		if !strings.Contains(push, want) {
			t.Errorf("epack-push.1 lacks %q", want)
		}
	}
	if pull := pages["epack-pull"]; !strings.Contains(pull, "\\fB\\-\\-verify\\fR\n") || !strings.Contains(pull, "(default true)") {
		t.Errorf("epack-pull.1: --verify and its default true missing")
	}
	if top := pages["epack"]; !strings.Contains(top, "\n.SH COMMANDS\n") || !strings.Contains(top, "\\fBepack\\-push\\fR(1)") {
		t.Errorf("epack.1 does not list its commands")
	}

	before, _ := os.ReadFile(filepath.Join(dir, "epack-push.1"))
	if _, errOut, code := runIn(t, root, "docs", "man", dir, "--json"); code != 0 {
		t.Fatalf("second run: exit %d %s", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "epack-push.1"))
	if !bytes.Equal(before, after) {
		t.Error("generating twice gave different pages")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestDocsManRefusesLinks: a folder reached through a symbolic link, and a
// page that is a symbolic link, are refused and nothing is written through
// them.
func TestDocsManRefusesLinks(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runIn(t, root, "docs", "man", "linked/man1")
	if code == 0 || !strings.Contains(errOut, "symlink_not_allowed") {
		t.Errorf("folder through a link: exit %d\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("written through the link: %v", entries)
	}

	victim := filepath.Join(elsewhere, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.MkdirAll(filepath.Join(root, "man"), 0o755)
	if err := os.Symlink(victim, filepath.Join(root, "man", "epack.1")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runIn(t, root, "docs", "man", "man")
	if code == 0 || !strings.Contains(errOut, "symlink_not_allowed") {
		t.Errorf("page that is a link: exit %d\n%s", code, errOut)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("link target overwritten: %q", b)
	}
}

// completionProject is a project with three remotes and a stream.
func completionProject(t *testing.T) string {
	dir := t.TempDir()
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	y := "stream: acme/prod\nremotes:\n" +
		"  origin:\n    adapter: filesystem\n    transport: {file_root: .epack/a}\n" +
		"  backup:\n    adapter: filesystem\n    transport: {file_root: .epack/b}\n" +
		"  offsite:\n    adapter: filesystem\n    transport: {file_root: .epack/c}\n"
	if err := os.WriteFile(filepath.Join(dir, "epack.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// complete runs cobra's hidden __complete command and returns the offered
// values (descriptions dropped) and the directive line.
func complete(t *testing.T, dir string, args ...string) ([]string, string) {
	t.Helper()
	out, _, code := runIn(t, dir, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d", args, code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	directive := lines[len(lines)-1]
	var values []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, directive
}

// TestCompletionOfRemotesAndStreams completes, through the CLI, the first
// argument of every command whose Use line takes a remote with the
// project's remote names, and --stream with the project's stream.
func TestCompletionOfRemotesAndStreams(t *testing.T) {
	dir := completionProject(t)
	all := []string{"backup", "offsite", "origin"}
	const noFiles = ":4"

	ios, _, _, _ := cli.NewTestIOStreams()
	root, _ := cli.NewRootCmd(ios)
	var takesRemote []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, f := range strings.Fields(c.Use)[1:] {
			if n := strings.TrimSuffix(strings.Trim(f, "<>[]"), "..."); n == "remote" {
				takesRemote = append(takesRemote, strings.TrimPrefix(c.CommandPath(), "epack "))
				break
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, must := range []string{"push", "pull", "lock", "sync", "releases", "remote whoami"} {
		found := false
		for _, c := range takesRemote {
			found = found || c == must
		}
		if !found {
			t.Errorf("%q does not take a remote by its Use line (%v)", must, takesRemote)
		}
	}
	for _, c := range takesRemote {
		args := append(strings.Fields(c), "")
		got, directive := complete(t, dir, args...)
		if !reflect.DeepEqual(got, all) || directive != noFiles {
			t.Errorf("epack %s <TAB>: %v %s, want %v %s", c, got, directive, all, noFiles)
		}
	}

	for _, tc := range []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{"push", "o"}, []string{"offsite", "origin"}, noFiles},
		{[]string{"pull", "--frozen", "b"}, []string{"backup"}, noFiles},
		{[]string{"push", "origin", ""}, nil, ":0"}, // the pack: file names
		{[]string{"remote", "whoami", "origin", ""}, nil, noFiles},
		{[]string{"lock", "origin", ""}, []string{"backup", "offsite"}, noFiles},
		{[]string{"sync", "origin", "backup", ""}, []string{"offsite"}, noFiles},
		{[]string{"pull", "origin", "--stream", ""}, []string{"acme/prod"}, noFiles},
		{[]string{"build", "out.epack", "--stream", "acme"}, []string{"acme/prod"}, noFiles},
		{[]string{"build", "out.epack", "--stream", "other"}, nil, noFiles},
	} {
		got, directive := complete(t, dir, tc.args...)
		if !reflect.DeepEqual(got, tc.want) || directive != tc.directive {
			t.Errorf("epack %q: %v %s, want %v %s", tc.args, got, directive, tc.want, tc.directive)
		}
	}

	// The description is the adapter.
	out, _, _ := runIn(t, dir, "__complete", "push", "ori")
	if !strings.HasPrefix(out, "origin\tfilesystem adapter\n") {
		t.Errorf("description: %q", out)
	}
	// Outside a project, and in a broken one, nothing is offered and no
	// error reaches the prompt.
	for _, d := range []string{t.TempDir(), brokenProject(t)} {
		out, _, code := runIn(t, d, "__complete", "push", "")
		if code != 0 || strings.TrimSpace(out) != noFiles {
			t.Errorf("no project: exit %d %q", code, out)
		}
	}
}

func brokenProject(t *testing.T) string {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "epack.yaml"), []byte("remotes: [not, a, map\n"), 0o644)
	return d
}

// TestFailingPushPrintsOneError: whatever makes a push fail, the error is
// printed once: one "Error:" line, the failed step marked without the
// message, and the message (an adapter's words included) not repeated.
func TestFailingPushPrintsOneError(t *testing.T) {
	for _, tc := range []struct {
		name, ext string
		args      []string
		status    int
		once      string // text that must appear exactly once on stderr
	}{
		{"unpinned adapter", "", []string{"push", "t", "dist/s.epack"}, 10, "not pinned"},
		{"adapter refuses the release", `"finalize_error":"quota-exceeded-4711"`, []string{"push", "t", "dist/s.epack", "--insecure-allow-unpinned"}, 1, "quota-exceeded-4711"},
		{"missing pack", "", []string{"push", "t", "dist/none.epack", "--insecure-allow-unpinned"}, 2, "pack not found"},
		{"unknown remote", "", []string{"push", "nope", "dist/s.epack"}, 1, `"nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, tc.ext)
			out, errOut, code := p.run(t, tc.args...)
			if code != tc.status {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.status, out, errOut)
			}
			errLines := 0
			for _, l := range strings.Split(errOut, "\n") {
				if strings.HasPrefix(l, "Error:") {
					errLines++
				}
			}
			if errLines != 1 {
				t.Errorf("%d Error: lines, want 1:\n%s", errLines, errOut)
			}
			// Lines the adapter wrote itself are relayed marked as its own
			// ("[adapter test] …"); epack's own lines must not repeat the
			// message.
			var own []string
			for _, l := range strings.Split(errOut, "\n") {
				if !strings.HasPrefix(l, "[adapter ") {
					own = append(own, l)
				}
			}
			if n := strings.Count(strings.Join(own, "\n"), tc.once); n != 1 {
				t.Errorf("%q printed %d times by epack, want once:\n%s", tc.once, n, errOut)
			}
			if strings.Contains(out, "Error:") {
				t.Errorf("error on stdout:\n%s", out)
			}
		})
	}
}
