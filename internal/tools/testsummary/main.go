// Command testsummary reads `go test -json` on stdin and prints what a person
// needs from a long CI run: one line per package, the whole output of every
// failed test, and the list of skipped tests with their reasons. It exits 1
// when anything failed (including a build failure or unparseable input).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string
}

type key struct{ pkg, test string }

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// summarize does the work of main; it reports whether anything failed.
func summarize(in io.Reader, out io.Writer) (bool, error) {
	output := map[key]*strings.Builder{}
	buildOut := map[string]*strings.Builder{}
	var skipped []string
	var failures []key
	failedAny := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// go test prints some errors (e.g. setup failures) as plain text.
			fmt.Fprintln(out, string(line))
			failedAny = true
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			b := buildOut[e.ImportPath]
			if b == nil {
				b = &strings.Builder{}
				buildOut[e.ImportPath] = b
			}
			b.WriteString(e.Output)
		case "build-fail":
			failedAny = true
			fmt.Fprintf(out, "BUILD FAIL %s\n%s", e.ImportPath, text(buildOut[e.ImportPath]))
		case "output":
			b := output[k]
			if b == nil {
				b = &strings.Builder{}
				output[k] = b
			}
			b.WriteString(e.Output)
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(text(output[k]))))
			}
			delete(output, k)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			}
			delete(output, k)
		case "fail":
			failedAny = true
			if e.Test == "" {
				fmt.Fprintf(out, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
				if b := output[k]; b != nil {
					fmt.Fprint(out, indent(b.String()))
				}
			} else {
				failures = append(failures, k)
				fmt.Fprintf(out, "--- FAIL %s %s\n%s", e.Package, e.Test, indent(text(output[k])))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	sort.Strings(skipped)
	fmt.Fprintf(out, "\n%d skipped test(s)\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintln(out, "  SKIP", s)
	}
	if len(failures) > 0 {
		fmt.Fprintf(out, "\n%d failed test(s)\n", len(failures))
		for _, f := range failures {
			fmt.Fprintf(out, "  FAIL %s %s\n", f.pkg, f.test)
		}
	}
	return failedAny, nil
}

func text(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}

// skipReason picks the message given to t.Skip out of a skipped test's output.
func skipReason(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " / ")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}
