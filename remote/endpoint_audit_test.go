package remote

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/internal/audit"
	"github.com/evidencerelay/epack/protocol"
)

// Each custom endpoint is announced on stderr and audited with the host it
// points at (never the rest of the URL), naming the variable it reaches the
// adapter in.
func TestCustomEndpointsAudited(t *testing.T) {
	p := newProject(t)
	bin := copyAdapter(t, t.TempDir(), "epack-remote-sdk")
	p.pin("origin", bin)
	r := p.remote("origin", bin)
	r.InsecureEndpoint = "https://api.example.com:8443/v1/team-x"
	r.Auth.InsecureEndpoint = "https://auth.example.com/login"
	var stderr syncBuffer
	s, err := Open(t.Context(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Stderr: &stderr, Policy: Policy{Component: "push"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, want := range []string{
		"WARNING: Running with custom remote endpoint https://api.example.com:8443/v1/team-x.",
		"WARNING: Running with custom remote auth endpoint https://auth.example.com/login.",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(p.root, audit.File))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev["event"] != "custom_endpoint" {
			continue
		}
		got = append(got, ev["variable"].(string)+" "+ev["remote_endpoint_host"].(string)+" "+ev["component"].(string))
		if strings.Contains(line, "team-x") || strings.Contains(line, "/login") {
			t.Errorf("audit line carries more than the host: %s", line)
		}
	}
	sort.Strings(got)
	want := []string{protocol.EnvAuthEndpoint + " auth.example.com push", protocol.EnvEndpoint + " api.example.com:8443 push"}
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audited endpoints %q, want %q", got, want)
	}
}
