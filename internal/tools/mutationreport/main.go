// Command mutationreport turns a gremlins JSON result into one line of the
// project's mutation table, subtracting the reviewed equivalent mutants listed
// in scripts/mutation-equivalent.txt and listing every mutant that lived.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// result is the part of gremlins' JSON output that is read here.
type result struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// row is one package's counts.
type row struct {
	killed, lived, equivalent, timedOut int
	livedAt                             []string
}

func (r row) efficacy() float64 {
	if r.killed+r.lived == 0 {
		return 100
	}
	return 100 * float64(r.killed) / float64(r.killed+r.lived)
}

func main() {
	pkg := flag.String("pkg", "", "package path relative to the module root (prefix of the file names)")
	equiv := flag.String("equivalent", "", "file listing reviewed equivalent mutants")
	verbose := flag.Bool("v", true, "list the mutants that lived")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mutationreport -pkg <dir> [-equivalent file] <gremlins.json>")
		os.Exit(2)
	}
	eq := map[string]bool{}
	if *equiv != "" {
		f, err := os.Open(*equiv)
		if err != nil && !os.IsNotExist(err) {
			fail(err)
		}
		if err == nil {
			eq, err = readEquivalents(f)
			f.Close()
			if err != nil {
				fail(err)
			}
		}
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	r, err := summarize(b, *pkg, eq)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%-22s %7d %6d %8d %6d %8.1f%%\n", *pkg, r.killed, r.lived, r.equivalent, r.timedOut, r.efficacy())
	if *verbose {
		for _, l := range r.livedAt {
			fmt.Println("    lived:", l)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mutationreport:", err)
	os.Exit(1)
}

// readEquivalents reads lines "<pkg>/<file>:<line>:<col> <MUTATOR> <reason…>";
// a line without a reason is an error, so no exclusion goes unexplained.
func readEquivalents(r io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("equivalent mutants line %d: want \"<file:line:col> <MUTATOR> <reason>\", got %q", n, line)
		}
		out[f[0]+" "+f[1]] = true
	}
	return out, sc.Err()
}

func summarize(b []byte, pkg string, eq map[string]bool) (row, error) {
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		return row{}, fmt.Errorf("reading gremlins output: %w", err)
	}
	var r row
	for _, f := range res.Files {
		for _, m := range f.Mutations {
			where := fmt.Sprintf("%s:%d:%d", path.Join(pkg, f.FileName), m.Line, m.Column)
			switch m.Status {
			case "KILLED":
				r.killed++
			case "LIVED":
				if eq[where+" "+m.Type] {
					r.equivalent++
					continue
				}
				r.lived++
				r.livedAt = append(r.livedAt, where+" "+m.Type)
			case "TIMED OUT":
				r.timedOut++
				r.killed++ // a mutant that hangs the tests was noticed
			}
		}
	}
	sort.Strings(r.livedAt)
	return r, nil
}
