package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestManPageEscaping renders a tree whose texts hold everything troff
// would misread: lines starting with a dot or an apostrophe, backslashes,
// hyphens, quotes in the title and characters beyond ASCII. A hidden
// command gets no page.
func TestManPageEscaping(t *testing.T) {
	root := &cobra.Command{Use: "epack", Short: "top", Run: func(*cobra.Command, []string) {}}
	sub := &cobra.Command{
		Use:   "odd <a\\b>",
		Short: `quotes "here" and C:\path`,
		Long: "First line.\n.SH FAKE section request\n'br fake request\nback\\slash and \\fBnot bold\\fR\n\n" +
			"  indented .line kept\n  .also kept\nend → done…",
		Example: ".leading dot example\n  epack odd --x",
		Run:     func(*cobra.Command, []string) {},
	}
	sub.Flags().String("x-y", "d\\v", "usage with \\ and .dot")
	sub.Flags().BoolP("force", "f", false, "replace")
	root.AddCommand(sub, &cobra.Command{Use: "secret", Hidden: true, Run: func(*cobra.Command, []string) {}})

	pages := manPages(root, `epack "1.0"`)
	if len(pages) != 2 || pages[0].name != "epack.1" || pages[1].name != "epack-odd.1" {
		var names []string
		for _, p := range pages {
			names = append(names, p.name)
		}
		t.Fatalf("pages %v, want epack.1 and epack-odd.1 (no page for the hidden command)", names)
	}
	page := string(pages[1].text)
	lines := strings.Split(page, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "'") {
			t.Errorf("line %d starts with an apostrophe: %q", i+1, l)
		}
		if strings.HasPrefix(l, ".") && !manRequest(l) {
			t.Errorf("line %d would be read as a request: %q", i+1, l)
		}
	}
	for _, want := range []string{
		`.TH "EPACK\-ODD" 1 "" "epack \(dq1.0\(dq" "epack manual"`,
		"\n" + `epack\-odd \- quotes "here" and C:\epath` + "\n",
		"\n" + `\fBepack odd\fR <a\eb> [flags]` + "\n",
		"\n\\&.SH FAKE section request\n",
		"\n\\&'br fake request\n",
		"\nback\\eslash and \\efBnot bold\\efR\n",
		"\n.nf\n  indented .line kept\n  .also kept\n.fi\nend \\[u2192] done\\[u2026]\n",
		"\n.SH EXAMPLES\n.PP\n.nf\n\\&.leading dot example\n  epack odd \\-\\-x\n.fi\n",
		"\n.TP\n\\fB\\-f\\fR, \\fB\\-\\-force\\fR\nreplace\n",
		"\n.TP\n\\fB\\-\\-x\\-y\\fR \\fIstring\\fR\nusage with \\e and .dot (default \"d\\ev\")\n",
		"\n.SH SEE ALSO\n\\fBepack\\fR(1)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	if strings.ContainsFunc(page, func(r rune) bool { return r > 127 }) {
		t.Error("page is not ASCII")
	}
	top := string(pages[0].text)
	if !strings.Contains(top, "\n.SH COMMANDS\n.TP\n\\fBepack\\-odd\\fR(1)\n") || strings.Contains(top, "secret") {
		t.Errorf("root page:\n%s", top)
	}
}

// manRequest reports whether a line starting with a dot is one of the
// requests the generator writes.
func manRequest(l string) bool {
	for _, r := range []string{`.\"`, ".TH ", ".SH ", ".PP", ".TP", ".B ", ".br", ".nf", ".fi"} {
		if l == r || strings.HasPrefix(l, r) && (strings.HasSuffix(r, " ") || r == `.\"` || len(l) == len(r)) {
			return true
		}
	}
	return false
}
