package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// operators are what each mutator changes, as it appears at the mutant's
// column.
var operators = map[string][]string{
	"CONDITIONALS_BOUNDARY": {"<=", ">=", "<", ">"},
	"CONDITIONALS_NEGATION": {"==", "!=", "<=", ">=", "<", ">"},
	"INVERT_NEGATIVES":      {"-"},
	"ARITHMETIC_BASE":       {"+", "-", "*", "/", "%"},
	"INCREMENT_DECREMENT":   {"++", "--"},
	"INVERT_LOGICAL":        {"&&", "||"},
	"INVERT_LOOPCTRL":       {"break", "continue"},
}

// Every equivalent mutant the report subtracts must still point at its
// operator: an edit that moves the line without moving the entry would
// subtract nothing and report the mutant as a survivor (or, worse, excuse
// another one that lands on that spot). Edit a listed file, move its entries.
func TestEquivalentsPointAtTheirOperator(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	f, err := os.Open(filepath.Join(root, "scripts", "mutation-equivalent.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sources := map[string][]string{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		fields := strings.Fields(line)
		where, mutator := fields[0], fields[1]
		parts := strings.Split(where, ":")
		if len(parts) != 3 {
			t.Errorf("%q: want <file>:<line>:<col>", where)
			continue
		}
		ln, err1 := strconv.Atoi(parts[1])
		col, err2 := strconv.Atoi(parts[2])
		ops, known := operators[mutator]
		if err1 != nil || err2 != nil || !known {
			t.Errorf("%q %s: bad position or unknown mutator", where, mutator)
			continue
		}
		src, ok := sources[parts[0]]
		if !ok {
			b, err := os.ReadFile(filepath.Join(root, parts[0]))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			src = strings.Split(string(b), "\n")
			sources[parts[0]] = src
		}
		if ln < 1 || ln > len(src) || col < 1 || col > len(src[ln-1]) {
			t.Errorf("%s %s: past the end of the file or line", where, mutator)
			continue
		}
		at := src[ln-1][col-1:]
		found := false
		for _, op := range ops {
			found = found || strings.HasPrefix(at, op)
		}
		if !found {
			t.Errorf("%s %s: the line there is %q, with no %v at column %d (moved by an edit?)", where, mutator, strings.TrimSpace(src[ln-1]), ops, col)
		}
	}
	if err := sc.Err(); err != nil || n == 0 {
		t.Fatalf("read %d entries: %v", n, err)
	}
}
