package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/version"
)

// docsOptions are the arguments of 'epack docs man'.
type docsOptions struct {
	g *Globals

	Format string // "man"
	Dir    string // the folder the pages are written to

	// root is the command tree the pages describe (the running one).
	root *cobra.Command
}

// newCmdDocs builds 'epack docs' and its 'man' subcommand; runF runs the
// parsed options (nil: runDocs).
func newCmdDocs(g *Globals, runF func(context.Context, *docsOptions) error) *cobra.Command {
	o := &docsOptions{g: g}
	if runF == nil {
		runF = runDocs
	}
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Generate documentation from the command tree",
		Long: `Generate documentation for every command from the command tree itself, so
it always matches the binary that wrote it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	man := &cobra.Command{
		Use:   "man <dir>",
		Short: "Write a section 1 man page for every command into <dir>",
		Long: `Write one man page (section 1) for every command: epack.1, epack-push.1,
epack-remote-whoami.1 and so on, each with NAME, SYNOPSIS, DESCRIPTION,
OPTIONS, EXAMPLES, EXIT STATUS and SEE ALSO. Hidden commands get no page.

The folder is created when missing. Each page is written atomically (a temp
file in the folder, then renamed), replacing an older page of that name; a
symbolic link, as a page or as any folder below the working folder, is
refused and never followed.`,
		Example: `  epack docs man ./man
  man -l ./man/epack-push.1
  sudo epack docs man /usr/local/share/man/man1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Format, o.Dir, o.root = "man", args[0], cmd.Root()
			return runF(cmd.Context(), o)
		},
	}
	cmd.AddCommand(man)
	return cmd
}

// runDocs writes the man pages of o.root into o.Dir.
func runDocs(_ context.Context, o *docsOptions) error {
	g := o.g
	if strings.TrimSpace(o.Dir) == "" {
		return errcode.New(errcode.InvalidInput, "the folder is blank").WithHint("for example: epack docs man ./man")
	}
	pages := manPages(o.root, "epack "+version.Version)
	d, err := openDocsDir(o.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	names := make([]string, 0, len(pages))
	for _, p := range pages {
		if err := d.WriteAtomic(p.name, p.text, 0o644); err != nil {
			return err
		}
		names = append(names, p.name)
		g.verbose("wrote %s\n", filepath.Join(d.Path(), p.name))
	}
	out := map[string]any{"ok": true, "format": o.Format, "dir": d.Path(), "pages": names}
	g.result = out
	if g.JSON {
		writeJSON(g.IO.Out, out)
		return nil
	}
	g.out("%s Wrote %d man pages to %s\n", g.okMark(), len(names), d.Path())
	return nil
}

// openDocsDir opens (creating what is missing) the folder the pages go to.
// Below the working folder every component is opened without following
// links; elsewhere the components from the nearest existing folder on are.
func openDocsDir(dir string) (*safefile.Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "folder %q", dir)
	}
	if cwd, err := os.Getwd(); err == nil {
		if rel, ok := safefile.Below(cwd, abs); ok {
			return safefile.OpenDir(cwd, filepath.ToSlash(rel), true, 0o755)
		}
	}
	base, rel := abs, ""
	for {
		if _, err := os.Lstat(base); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, errcode.Wrap(errcode.IOError, err, "folder %s", base)
		}
		parent := filepath.Dir(base)
		if parent == base {
			break
		}
		rel = filepath.Join(filepath.Base(base), rel)
		base = parent
	}
	return safefile.OpenDir(base, filepath.ToSlash(rel), true, 0o755)
}

// manPage is one generated page: its file name and roff text.
type manPage struct {
	name string
	text []byte
}

// manPages renders a page for root and every visible command below it, in
// tree order. source is the .TH source field ("epack 1.2.3").
func manPages(root *cobra.Command, source string) []manPage {
	var pages []manPage
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && (!c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand()) {
			return
		}
		pages = append(pages, manPage{name: manName(c) + ".1", text: []byte(manPageText(c, source))})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return pages
}

// manName is the page name of c: its command path joined by '-'.
func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

// visibleChildren are c's subcommands that get pages.
func visibleChildren(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			out = append(out, sub)
		}
	}
	return out
}

// manPageText renders c's page.
func manPageText(c *cobra.Command, source string) string {
	var b strings.Builder
	name := manName(c)
	b.WriteString(`.\" Generated by 'epack docs man' from the command tree; do not edit.` + "\n")
	fmt.Fprintf(&b, ".TH %s 1 \"\" %s \"epack manual\"\n", roffArg(strings.ToUpper(name)), roffArg(source))

	b.WriteString(".SH NAME\n")
	b.WriteString(roffLine(name+" - "+c.Short) + "\n")

	b.WriteString(".SH SYNOPSIS\n")
	usage := strings.TrimSpace(strings.TrimPrefix(c.UseLine(), c.CommandPath()))
	line := `\fB` + roffEscape(c.CommandPath()) + `\fR`
	if usage != "" {
		line += " " + roffEscape(usage)
	}
	b.WriteString(line + "\n")

	b.WriteString(".SH DESCRIPTION\n")
	desc := c.Long
	if strings.TrimSpace(desc) == "" {
		desc = c.Short
	}
	b.WriteString(roffBody(desc))

	if subs := visibleChildren(c); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, sub := range subs {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR(1)\n%s\n", roffEscape(manName(sub)), roffLine(sub.Short))
		}
	}

	local, global := manFlagDocs(c)
	if len(local) > 0 {
		b.WriteString(".SH OPTIONS\n" + manFlags(local))
	}
	if len(global) > 0 {
		b.WriteString(".SH GLOBAL OPTIONS\n" + manFlags(global))
	}

	if ex := strings.Trim(c.Example, "\n"); strings.TrimSpace(ex) != "" {
		b.WriteString(".SH EXAMPLES\n.PP\n.nf\n")
		for _, l := range strings.Split(ex, "\n") {
			b.WriteString(roffLine(strings.TrimRight(l, " \t")) + "\n")
		}
		b.WriteString(".fi\n")
	}

	b.WriteString(".SH EXIT STATUS\n")
	for _, row := range exitstatus.Table() {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", row.Status, roffLine(row.Meaning))
		if len(row.Codes) > 0 {
			codes := make([]string, len(row.Codes))
			for i, code := range row.Codes {
				codes[i] = string(code)
			}
			tail := "."
			if row.Status == exitstatus.Failure {
				tail = ", and any error without a code of its own."
			}
			b.WriteString(".br\n" + roffLine("Error codes: "+strings.Join(codes, ", ")+tail) + "\n")
		}
	}
	b.WriteString(".TP\n.B 130\n" + roffLine("interrupted by SIGINT (Ctrl-C): the command stopped and removed what it had started to write") + "\n")
	b.WriteString(".TP\n.B 143\n" + roffLine("terminated by SIGTERM, as for SIGINT") + "\n")

	var refs []string
	if p := c.Parent(); p != nil {
		refs = append(refs, `\fB`+roffEscape(manName(p))+`\fR(1)`)
	}
	for _, sub := range visibleChildren(c) {
		refs = append(refs, `\fB`+roffEscape(manName(sub))+`\fR(1)`)
	}
	if len(refs) > 0 {
		b.WriteString(".SH SEE ALSO\n" + strings.Join(refs, ", ") + "\n")
	}
	return b.String()
}

// flagDoc is what a page says about one flag.
type flagDoc struct {
	name, short, typ, usage, def string
}

// manFlagDocs lists c's own flags and the global ones it inherits, in name
// order, without hidden or deprecated flags and without --help.
func manFlagDocs(c *cobra.Command) (local, global []flagDoc) {
	for i, set := range pair(flagsOf(c.NonInheritedFlags().VisitAll), flagsOf(c.InheritedFlags().VisitAll)) {
		for _, f := range set {
			if f.Hidden || f.Deprecated != "" || f.Name == "help" {
				continue
			}
			d := flagDoc{name: f.Name, short: f.Shorthand, typ: f.Value.Type(), usage: f.Usage, def: f.DefValue}
			if i == 0 {
				local = append(local, d)
			} else {
				global = append(global, d)
			}
		}
	}
	return local, global
}

// flagsOf collects the flags a FlagSet's VisitAll visits. It is generic only
// so the flag type is inferred from cobra's API rather than named (this
// package does not import pflag itself).
func flagsOf[F any](visitAll func(func(F))) []F {
	var out []F
	visitAll(func(f F) { out = append(out, f) })
	return out
}

func pair[T any](a, b T) []T { return []T{a, b} }

// manFlags renders flags as .TP entries: "-o, --output string" and the
// usage with the default, when it is not the zero value.
func manFlags(flags []flagDoc) string {
	var b strings.Builder
	for _, f := range flags {
		head := `\fB\-\-` + roffEscape(f.name) + `\fR`
		if f.short != "" {
			head = `\fB\-` + roffEscape(f.short) + `\fR, ` + head
		}
		if arg := flagArg(f.typ); arg != "" {
			head += ` \fI` + roffEscape(arg) + `\fR`
		}
		usage := f.usage
		switch f.def {
		case "", "false", "[]", "0":
		default:
			if f.typ == "string" {
				usage += ` (default "` + f.def + `")`
			} else {
				usage += " (default " + f.def + ")"
			}
		}
		b.WriteString(".TP\n" + head + "\n" + roffLine(usage) + "\n")
	}
	return b.String()
}

// flagArg names a flag's value in the synopsis of the flag ("" for a switch).
func flagArg(typ string) string {
	switch typ {
	case "bool", "count":
		return ""
	case "stringSlice", "stringArray":
		return "string"
	}
	return typ
}

// Roff. Text is escaped so troff prints it as written: a backslash becomes
// \e, a hyphen \- (a minus sign that can be pasted as "-", which matters
// for --flags), and a line that would start with a dot or an apostrophe (a
// request to troff) starts with the zero-width \& first.

// roffEscape escapes text within one line. Characters beyond ASCII ("…",
// "→") become \[uXXXX], so the page reads the same whether or not the
// formatter is told the input is UTF-8.
func roffEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// roffLine escapes one line of text, protecting a leading dot or apostrophe.
func roffLine(s string) string {
	s = roffEscape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffArg quotes a macro argument.
func roffArg(s string) string {
	return `"` + strings.ReplaceAll(roffEscape(s), `"`, `\(dq`) + `"`
}

// roffBody renders free text: paragraphs (split at blank lines) become .PP
// paragraphs that troff fills, except runs of indented lines (lists,
// commands), which are kept line for line (.nf … .fi).
func roffBody(text string) string {
	var b strings.Builder
	text = strings.Trim(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for _, para := range strings.Split(text, "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString(".PP\n")
		kept := false
		for _, l := range strings.Split(para, "\n") {
			l = strings.TrimRight(l, " \t")
			indented := strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
			switch {
			case indented && !kept:
				b.WriteString(".nf\n")
				kept = true
			case !indented && kept:
				b.WriteString(".fi\n")
				kept = false
			}
			if l == "" {
				continue
			}
			b.WriteString(roffLine(l) + "\n")
		}
		if kept {
			b.WriteString(".fi\n")
		}
	}
	return b.String()
}
