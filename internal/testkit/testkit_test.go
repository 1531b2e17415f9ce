package testkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	fatal  bool
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(f, a...))
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	r.fatal = true
	runtime.Goexit()
}
func (r *recorder) Fatal(a ...any) { r.Fatalf("%s", fmt.Sprint(a...)) }

// run calls f with a recorder in its own goroutine (Fatalf ends it).
func run(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r
}

func TestWantCode(t *testing.T) {
	inner := errcode.New(errcode.DigestMismatch, "artifact a.json digest differs")
	hinted := errcode.New(errcode.LockfileInvalid, "lockfile is stale").WithHint("run epack lock")
	cases := []struct {
		name      string
		hint      bool
		err       error
		code      errcode.Code
		subs      []string
		wantFatal bool
		wantErrs  int
	}{
		{"match", false, inner, errcode.DigestMismatch, nil, false, 0},
		{"wrapped match", false, fmt.Errorf("verify: %w", inner), errcode.DigestMismatch, []string{"verify", "a.json"}, false, 0},
		{"nil", false, nil, errcode.DigestMismatch, nil, true, 1},
		{"uncoded", false, errors.New("plain"), errcode.Internal, nil, true, 1},
		{"other code", false, inner, errcode.SizeMismatch, nil, true, 1},
		{"inner code only", false, errcode.Wrap(errcode.IOError, inner, "reading"), errcode.DigestMismatch, nil, true, 1},
		{"missing text", false, inner, errcode.DigestMismatch, []string{"a.json", "nope", "nada"}, false, 2},
		{"hint not text", false, hinted, errcode.LockfileInvalid, []string{"epack lock"}, false, 1},
		{"hint accepted", true, hinted, errcode.LockfileInvalid, []string{"epack lock", "stale"}, false, 0},
		{"hint missing", true, hinted, errcode.LockfileInvalid, []string{"epack sync"}, false, 1},
		{"hint wrong code", true, hinted, errcode.Internal, []string{"epack lock"}, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, func(tb testing.TB) {
				if c.hint {
					WantCodeHint(tb, c.err, c.code, c.subs...)
				} else {
					WantCode(tb, c.err, c.code, c.subs...)
				}
			})
			if r.fatal != c.wantFatal || len(r.errors) != c.wantErrs {
				t.Fatalf("fatal=%v errors=%q, want fatal=%v and %d errors", r.fatal, r.errors, c.wantFatal, c.wantErrs)
			}
		})
	}
}

func TestBinariesBuildOnceAndName(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	const prog = "epack-remote-sdk=./internal/testadapters/sdkadapter"
	dir := Binaries(t, prog)
	exe := filepath.Join(dir, "epack-remote-sdk")
	st1, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if st1.Mode()&0o111 == 0 {
		t.Fatalf("%s is not executable: %v", exe, st1.Mode())
	}
	if again := Binaries(t, prog); again != dir {
		t.Fatalf("second call gave folder %s, first %s", again, dir)
	}
	st2, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(st1, st2) || !st2.ModTime().Equal(st1.ModTime()) {
		t.Fatal("the binary was rebuilt on the second call")
	}
	// The import-path spelling of the same package is the same build.
	if again := Binaries(t, "epack-remote-sdk=github.com/evidencerelay/epack/internal/testadapters/sdkadapter"); again != dir {
		t.Fatalf("import-path spelling gave folder %s, first %s", again, dir)
	}
	// The same name from another package is a mistake, not a silent reuse.
	_, err = Build("epack-remote-sdk=./internal/testadapters/upstreamsdk")
	if err == nil || !strings.Contains(err.Error(), "already built from") {
		t.Fatalf("name clash: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want only the binary (stage folder left?)", len(ents))
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	_, err := Build("./internal/testkit/no-such-program")
	if err == nil || !strings.Contains(err.Error(), "go build") {
		t.Fatalf("want a go build error, got %v", err)
	}
}

func TestModulePathMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(ModuleRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if got := strings.TrimSpace(strings.TrimPrefix(first, "module ")); got != modulePath {
		t.Fatalf("go.mod names module %q, testkit assumes %q", got, modulePath)
	}
}

func TestRun(t *testing.T) {
	out, errOut, code := Run(t, "/bin/sh", t.TempDir(), []string{"KIT_X=1", "KIT_X=2"}, "-c", `echo "$KIT_X"; echo err >&2; exit 3`)
	if out != "2\n" || errOut != "err\n" || code != 3 {
		t.Fatalf("stdout %q stderr %q exit %d", out, errOut, code)
	}
}
