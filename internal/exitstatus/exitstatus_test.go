package exitstatus

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// TestREADMEExitTableMatches fails when the README's "Exit codes" table is
// not exactly Markdown(): the README prints the one table, never a
// copy that can drift.
func TestREADMEExitTableMatches(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readmeExitTable(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := Markdown(); got != want {
		t.Fatalf("README.md's exit-code table differs from internal/exitstatus; replace it with:\n\n%s\ngot:\n%s", want, got)
	}
}

// readmeExitTable returns the Markdown table that follows the "Exit codes"
// heading (its lines up to the first line that is not a table row).
func readmeExitTable(readme string) (string, error) {
	lines := strings.Split(readme, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") || strings.TrimSpace(strings.TrimLeft(l, "#")) != "Exit codes" {
			continue
		}
		var out strings.Builder
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		for ; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			out.WriteString(lines[j] + "\n")
		}
		if out.Len() == 0 {
			return "", errors.New(`README.md: no table after the "Exit codes" heading`)
		}
		return out.String(), nil
	}
	return "", errors.New(`README.md has no "Exit codes" heading`)
}

// TestEveryCodeHasOneRow reads the Code constants declared in this package
// and checks each is in exactly one row of the table, so a new code must be
// given an exit status on purpose.
func TestEveryCodeHasOneRow(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "errcode", "errcode.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[errcode.Code]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("code constant %v is not a string literal", v)
				}
				s, _ := strconv.Unquote(lit.Value)
				declared[errcode.Code(s)] = true
			}
		}
	}
	if len(declared) < 30 {
		t.Fatalf("found only %d code constants; the parser missed some", len(declared))
	}
	rows := map[errcode.Code]int{}
	for _, row := range Table() {
		for _, c := range row.Codes {
			if prev, dup := rows[c]; dup {
				t.Errorf("code %q is in rows %d and %d", c, prev, row.Status)
			}
			rows[c] = row.Status
		}
	}
	for c := range declared {
		if _, ok := rows[c]; !ok {
			t.Errorf("code %q has no row in the exit-status table", c)
		}
	}
	for c := range rows {
		if !declared[c] {
			t.Errorf("row code %q is not a declared constant", c)
		}
	}
}

// TestExitCodeFollowsTable: for every row, an error with each of its codes
// exits with the row's status, also when wrapped.
func TestExitCodeFollowsTable(t *testing.T) {
	for _, row := range Table() {
		for _, c := range row.Codes {
			err := fmt.Errorf("context: %w", errcode.New(c, "x"))
			if got := Of(err); got != row.Status {
				t.Errorf("code %q exits %d, the table says %d", c, got, row.Status)
			}
		}
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"uncoded", errors.New("x"), Failure},
		{"config error", errcode.New(errcode.ConfigInvalid, "epack.yaml:3: unknown key"), Failure},
		{"inner mapped code", errcode.Wrap(errcode.Internal, errcode.New(errcode.Timeout, "slow"), "push"), Timeout},
	}
	for _, tc := range tests {
		if got := Of(tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestExitTableShape(t *testing.T) {
	rows := Table()
	want := []int{0, 1, 2, 10, 11, 12, 13, 14, 15}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if r.Status != want[i] || r.Meaning == "" || strings.Contains(r.Meaning, "|") || strings.Contains(r.Meaning, "\n") {
			t.Errorf("row %d = %+v", i, r)
		}
	}
	// Table hands out a copy.
	rows[1].Meaning = "changed"
	if Table()[1].Meaning == "changed" {
		t.Error("Table shares the table")
	}
}
