// Package archtest holds the house rules of ARCHITECTURE.md §2 as a test
// over the real import graph: it runs `go list -deps -json ./...` on the
// module and refuses any package that imports what its layer may not.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/evidencerelay/epack"

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
	Deps       []string // every package it links, transitively
}

// graph maps import path → package, for every package `go list -deps`
// reports (the module's and everything they link).
type graph map[string]*pkg

// rule is one house rule: every module package Applies selects must not
// link a dependency Forbidden reports (with the reason to print).
type rule struct {
	name      string
	applies   func(rel string) bool
	forbidden func(g graph, dep string) (why string, bad bool)
}

// rel is an import path relative to the module ("" for a path outside it).
func rel(p string) string {
	switch {
	case p == module:
		return "."
	case strings.HasPrefix(p, module+"/"):
		return strings.TrimPrefix(p, module+"/")
	}
	return ""
}

// under reports whether rel is dir or a package below it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// isAdapterBinary: our adapters are the cmd/epack-remote-* commands.
func isAdapterBinary(rel string) bool { return strings.HasPrefix(rel, "cmd/epack-remote-") }

// forbidModule forbids the named module packages (and those below them).
func forbidModule(dirs ...string) func(graph, string) (string, bool) {
	return func(_ graph, dep string) (string, bool) {
		r := rel(dep)
		for _, d := range dirs {
			if r != "" && under(r, d) {
				return "links " + r, true
			}
		}
		return "", false
	}
}

// either combines forbidden-dependency checks.
func either(fs ...func(graph, string) (string, bool)) func(graph, string) (string, bool) {
	return func(g graph, dep string) (string, bool) {
		for _, f := range fs {
			if why, bad := f(g, dep); bad {
				return why, true
			}
		}
		return "", false
	}
}

// forbidPrefix forbids third-party packages by import path prefix.
func forbidPrefix(prefixes ...string) func(graph, string) (string, bool) {
	return func(_ graph, dep string) (string, bool) {
		for _, p := range prefixes {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				return "links " + dep, true
			}
		}
		return "", false
	}
}

// onlyStdlib forbids anything that is not in the standard library.
func onlyStdlib(g graph, dep string) (string, bool) {
	if p := g[dep]; p != nil && p.Standard {
		return "", false
	}
	return "links " + dep + ", which is not in the standard library", true
}

// onlyStdlibAnd allows the standard library and the named packages: module
// directories ("protocol") or, when they contain a dot, third-party import
// path prefixes ("golang.org/x/sys").
func onlyStdlibAnd(allowed ...string) func(graph, string) (string, bool) {
	return func(g graph, dep string) (string, bool) {
		r := rel(dep)
		for _, a := range allowed {
			if strings.Contains(a, ".") && under(dep, a) || r != "" && under(r, a) {
				return "", false
			}
		}
		return onlyStdlib(g, dep)
	}
}

// withRegistryDeps allows, besides what f allows, everything package
// registry links (its own rule holds those), so a store's rule need not
// repeat registry's.
func withRegistryDeps(f func(graph, string) (string, bool)) func(graph, string) (string, bool) {
	return func(g graph, dep string) (string, bool) {
		if reg := g[module+"/registry"]; reg != nil && slices.Contains(reg.Deps, dep) {
			return "", false
		}
		return f(g, dep)
	}
}

// aboveLibraries are the packages allowed to use push, pull and the CLI:
// the CLI itself, the commands and the examples.
func aboveLibraries(rel string) bool {
	return rel == "internal/cli" || rel == "cmd/epack" || under(rel, "examples") || rel == "push" || rel == "pull"
}

// houseRules are ARCHITECTURE.md §2's rules.
var houseRules = []rule{
	{
		name:      "nothing below push imports push, pull or the CLI",
		applies:   func(r string) bool { return !aboveLibraries(r) },
		forbidden: forbidModule("push", "pull", "internal/cli"),
	},
	{
		name:      "push and pull are siblings and never import the CLI",
		applies:   func(r string) bool { return r == "push" },
		forbidden: forbidModule("pull", "internal/cli"),
	},
	{
		name:      "pull and push are siblings and never import the CLI",
		applies:   func(r string) bool { return r == "pull" },
		forbidden: forbidModule("push", "internal/cli"),
	},
	{
		name:    "pack knows nothing of remotes",
		applies: func(r string) bool { return under(r, "pack") },
		forbidden: forbidModule("protocol", "remote", "transfer", "adapter", "registry", "config",
			"lockfile", "internal/sealedexec", "internal/sourceinstall", "internal/workflow"),
	},
	{
		name:      "protocol is a leaf: the standard library only",
		applies:   func(r string) bool { return r == "protocol" },
		forbidden: onlyStdlib,
	},
	{
		name:      "the adapter SDK links protocol and the standard library only",
		applies:   func(r string) bool { return r == "adapter" },
		forbidden: onlyStdlibAnd("protocol"),
	},
	{
		name:    "registry and the stores never import the host's runtime",
		applies: func(r string) bool { return under(r, "registry") },
		forbidden: either(forbidModule("remote", "config", "transfer", "lockfile", "internal/sealedexec",
			"internal/sourceinstall", "internal/workflow", "internal/yamlsafe"), forbidPrefix("gopkg.in/yaml.v3")),
	},
	{
		name:      "registry itself links protocol, small internal helpers and the standard library",
		applies:   func(r string) bool { return r == "registry" },
		forbidden: onlyStdlibAnd("protocol", "errcode", "internal/safefile", "internal/names", "internal/jcs", "golang.org/x/sys"),
	},
	{
		name:    "the OCI store links registry, protocol, oras-go and the standard library",
		applies: func(r string) bool { return r == "registry/ocistore" },
		forbidden: either(forbidModule("adapter", "registry/adapterhandler", "registry/fsstore", "registry/s3store", "registry/registrytest", "registry/adaptercheck"),
			withRegistryDeps(onlyStdlibAnd("registry", "protocol", "internal/safefile",
				"oras.land/oras-go/v2", "github.com/opencontainers/go-digest", "github.com/opencontainers/image-spec", "golang.org/x/sync"))),
	},
	{
		name:      "oras-go is the OCI store's: only it and its adapter link it",
		applies:   func(r string) bool { return r != "registry/ocistore" && r != "cmd/epack-remote-oci" },
		forbidden: forbidPrefix("oras.land/oras-go/v2"),
	},
	{
		name:    "adapter binaries link no YAML, config, sealed exec or host runtime",
		applies: isAdapterBinary,
		forbidden: either(forbidModule("remote", "config", "transfer", "lockfile", "internal/sealedexec",
			"internal/sourceinstall", "internal/yamlsafe", "internal/cli"), forbidPrefix("gopkg.in/yaml.v3")),
	},
}

// check returns one line per violation, sorted.
func check(g graph, rules []rule) []string {
	var out []string
	for _, p := range g {
		r := rel(p.ImportPath)
		if r == "" {
			continue
		}
		for _, ru := range rules {
			if !ru.applies(r) {
				continue
			}
			for _, d := range p.Deps {
				if why, bad := ru.forbidden(g, d); bad {
					out = append(out, fmt.Sprintf("%s: %s (rule: %s)", r, why, ru.name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// loadGraph runs `go list -deps -json ./...` at the module root.
func loadGraph(t *testing.T) graph {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("finding the module root: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = strings.TrimSpace(string(root))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.String())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		g[p.ImportPath] = &p
	}
	return g
}

func TestHouseRules(t *testing.T) {
	g := loadGraph(t)
	// The graph must hold what the rules talk about, or they pass vacuously.
	for _, want := range []string{"protocol", "remote", "adapter", "registry", "pack", "push", "pull",
		"internal/cli", "cmd/epack-remote-filesystem", "cmd/epack-remote-s3", "registry/ocistore", "cmd/epack-remote-oci"} {
		if g[path.Join(module, want)] == nil {
			t.Fatalf("go list did not report %s: the rules would check nothing", want)
		}
	}
	for _, v := range check(g, houseRules) {
		t.Error(v)
	}
}

// TestRulesCatchViolations feeds each rule a graph that breaks it, so a rule
// that can never fire (a typo in a path) fails here rather than passing.
func TestRulesCatchViolations(t *testing.T) {
	std := func(p string) *pkg { return &pkg{ImportPath: p, Standard: true} }
	mod := func(r string, deps ...string) *pkg {
		p := &pkg{ImportPath: path.Join(module, r)}
		for _, d := range deps {
			if !strings.Contains(d, ".") && d != "fmt" {
				d = path.Join(module, d)
			}
			p.Deps = append(p.Deps, d)
		}
		return p
	}
	tests := []struct {
		name string
		pkgs []*pkg
		want string // a substring of the one expected violation
	}{
		{"transfer imports push", []*pkg{mod("transfer", "push"), mod("push")}, "transfer: links push"},
		{"config imports the CLI", []*pkg{mod("config", "internal/cli"), mod("internal/cli")}, "config: links internal/cli"},
		{"push imports pull", []*pkg{mod("push", "pull"), mod("pull")}, "push: links pull"},
		{"pull imports push", []*pkg{mod("pull", "push"), mod("push")}, "pull: links push"},
		{"pack imports protocol", []*pkg{mod("pack", "protocol"), mod("protocol")}, "pack: links protocol"},
		{"pack/sign imports remote", []*pkg{mod("pack/sign", "remote"), mod("remote")}, "pack/sign: links remote"},
		{"protocol imports errcode", []*pkg{mod("protocol", "errcode"), mod("errcode")}, "protocol: links " + module + "/errcode"},
		{"protocol imports x/sys", []*pkg{mod("protocol", "golang.org/x/sys/unix"), {ImportPath: "golang.org/x/sys/unix"}}, "golang.org/x/sys/unix, which is not"},
		{"adapter imports remote", []*pkg{mod("adapter", "remote"), mod("remote")}, "adapter: links " + module + "/remote"},
		{"s3store imports remote", []*pkg{mod("registry/s3store", "remote"), mod("remote")}, "registry/s3store: links remote"},
		{"fsstore imports yaml", []*pkg{mod("registry/fsstore", "gopkg.in/yaml.v3"), {ImportPath: "gopkg.in/yaml.v3"}}, "registry/fsstore: links gopkg.in/yaml.v3"},
		{"registry imports adapter", []*pkg{mod("registry", "adapter"), mod("adapter")}, "registry: links " + module + "/adapter"},
		{"adapter binary links sealed exec", []*pkg{mod("cmd/epack-remote-oci", "internal/sealedexec"), mod("internal/sealedexec")}, "cmd/epack-remote-oci: links internal/sealedexec"},
		{"ocistore imports the S3 store", []*pkg{mod("registry/ocistore", "registry/s3store"), mod("registry/s3store")}, "registry/ocistore: links registry/s3store"},
		{"ocistore imports the adapter SDK", []*pkg{mod("registry/ocistore", "adapter"), mod("adapter")}, "registry/ocistore: links adapter"},
		{"ocistore links the AWS SDK", []*pkg{mod("registry/ocistore", "github.com/aws/aws-sdk-go-v2/aws"), {ImportPath: "github.com/aws/aws-sdk-go-v2/aws"}}, "registry/ocistore: links github.com/aws/aws-sdk-go-v2/aws, which is not"},
		{"s3store links oras-go", []*pkg{mod("registry/s3store", "oras.land/oras-go/v2/registry/remote"), {ImportPath: "oras.land/oras-go/v2/registry/remote"}}, "registry/s3store: links oras.land/oras-go/v2/registry/remote"},
		{"adapter binary links config", []*pkg{mod("cmd/epack-remote-s3", "config"), mod("config")}, "cmd/epack-remote-s3: links config"},
		{"adapter binary links yaml", []*pkg{mod("cmd/epack-remote-filesystem", "gopkg.in/yaml.v3"), {ImportPath: "gopkg.in/yaml.v3"}}, "links gopkg.in/yaml.v3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := graph{"fmt": std("fmt")}
			for _, p := range tc.pkgs {
				g[p.ImportPath] = p
			}
			got := check(g, houseRules)
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("violations %q, want one containing %q", got, tc.want)
			}
		})
	}
	// A graph that keeps the rules reports nothing.
	ok := graph{"fmt": std("fmt")}
	for _, p := range []*pkg{mod("protocol", "fmt"), mod("adapter", "protocol", "fmt"), mod("registry", "protocol", "internal/safefile"),
		mod("internal/safefile"), mod("push", "remote", "pack"), mod("remote", "protocol", "config"), mod("protocol"), mod("pack", "internal/jcs"),
		mod("internal/jcs"), mod("cmd/epack", "internal/cli"), mod("internal/cli", "push", "pull"),
		mod("registry/ocistore", "registry", "protocol", "oras.land/oras-go/v2/registry/remote"), {ImportPath: "oras.land/oras-go/v2/registry/remote"},
		mod("cmd/epack-remote-oci", "registry/ocistore", "registry/adapterhandler", "adapter", "oras.land/oras-go/v2/registry/remote"), mod("registry/adapterhandler", "adapter", "registry"), mod("registry")} {
		ok[p.ImportPath] = p
	}
	if got := check(ok, houseRules); len(got) != 0 {
		t.Fatalf("clean graph reported %q", got)
	}
}
