package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The programs of one test process live in one folder, made on first use
// and removed by Main. Each program is built at most once per process; the
// go command's own build cache makes a rebuild in another process (another
// package of `go test ./...`) a relink, not a compile.
var bins struct {
	sync.Mutex
	dir   string
	built map[string]string // program name → package it was built from
}

// Binaries builds the given programs of this module (once per test process)
// and returns the folder holding them, failing the test if a build fails.
// A program is a package path relative to the module root, "./cmd/epack",
// named after its last element, or "name=./path" to give the binary another
// name (adapters must be called epack-remote-<name>):
//
//	dir := testkit.Binaries(t, "./cmd/epack", "epack-remote-sdk=./internal/testadapters/sdkadapter")
func Binaries(t testing.TB, programs ...string) string {
	t.Helper()
	dir, err := Build(programs...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Build is Binaries for code without a testing.TB (TestMain, Example
// functions): it returns the folder or the build error.
func Build(programs ...string) (string, error) {
	bins.Lock()
	defer bins.Unlock()
	if _, err := folder(); err != nil {
		return "", err
	}
	var names, pkgs []string
	for _, p := range programs {
		name, pkg := splitProgram(p)
		if prev, ok := bins.built[name]; ok {
			if prev != pkg {
				return "", fmt.Errorf("test binary %s asked for from %s, already built from %s: give one of them another name (name=./path)", name, pkg, prev)
			}
			continue
		}
		names, pkgs = append(names, name), append(pkgs, pkg)
	}
	if len(pkgs) == 0 {
		return bins.dir, nil
	}
	// One go build for all missing programs (it builds them in parallel)
	// into a fresh folder, then each is moved to its name.
	stage, err := os.MkdirTemp(bins.dir, ".stage-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	cmd := exec.Command("go", append([]string{"build", "-o", stage + string(os.PathSeparator)}, pkgs...)...)
	cmd.Dir = ModuleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	for i, pkg := range pkgs {
		exe := filepath.Base(pkg)
		if runtime.GOOS == "windows" {
			exe += ".exe"
		}
		if err := os.Rename(filepath.Join(stage, exe), filepath.Join(bins.dir, names[i])); err != nil {
			return "", fmt.Errorf("placing test binary %s: %w", names[i], err)
		}
		bins.built[names[i]] = pkg
	}
	return bins.dir, nil
}

// Dir returns the folder Binaries builds into, making it if needed but
// building nothing, for a TestMain that hands the folder to its tests
// before any of them asks for a program.
func Dir() (string, error) {
	bins.Lock()
	defer bins.Unlock()
	return folder()
}

// folder makes the process's binaries folder on first use; bins is locked.
func folder() (string, error) {
	if bins.dir == "" {
		d, err := os.MkdirTemp("", "epack-testkit-bin-")
		if err != nil {
			return "", fmt.Errorf("making the test binaries folder: %w", err)
		}
		bins.dir, bins.built = d, map[string]string{}
	}
	return bins.dir, nil
}

// splitProgram reads "name=./path" or "./path" (named after its last element).
// A package named by its import path in this module becomes "./path", so
// both spellings of one program are one build.
func splitProgram(p string) (name, pkg string) {
	name, pkg, ok := strings.Cut(p, "=")
	if !ok {
		name, pkg = filepath.Base(p), p
	}
	if rest, ok := strings.CutPrefix(pkg, modulePath+"/"); ok {
		pkg = "./" + rest
	}
	return name, pkg
}

// modulePath is this module's import path; go build accepts both it and
// module-relative paths, the kit keys its builds by the latter.
const modulePath = "github.com/evidencerelay/epack"

// Runner is what Main runs: *testing.M, or a wrapper around it.
type Runner interface{ Run() int }

// Main is for a package's TestMain: it runs the tests, then removes the
// folder Binaries built into.
//
//	func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }
func Main(m Runner) int {
	defer Cleanup()
	return m.Run()
}

// Cleanup removes the binaries folder (for a TestMain that cannot use Main).
func Cleanup() {
	bins.Lock()
	defer bins.Unlock()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
		bins.dir, bins.built = "", nil
	}
}

// ModuleRoot is the module's root folder, found from this file's place in it
// (internal/testkit), so tests build the same tree whatever their working
// directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
