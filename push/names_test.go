package push_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/push"
)

// TestPushRefusesNamesRegistriesRefuse: a blank workspace given explicitly
// used to become the configured (or default) one silently, and a pack
// whose stream every registry refuses was sent to the adapter anyway. Both
// are bad input now, refused before push.prepare, naming the rule.
func TestPushRefusesNamesRegistriesRefuse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stream string // the pack's stream
		yaml   string // replaces the remote's target line
		opts   func(*push.Options)
		want   string
	}{
		{name: "blank workspace option", opts: func(o *push.Options) { o.Workspace = "   " }, want: "workspace"},
		{name: "workspace option with a slash", opts: func(o *push.Options) { o.Workspace = "../other" }, want: "workspace"},
		{name: "blank environment option", opts: func(o *push.Options) { o.Environment = "\u00a0" }, want: "environment"},
		{name: "blank configured workspace", yaml: `target: {workspace: "  ", environment: prod}`, want: "target.workspace"},
		{name: "configured environment dot-dot", yaml: `target: {workspace: acme, environment: ".."}`, want: "target.environment"},
		{name: "stream with an empty segment", stream: "a//b", want: "stream"},
		{name: "stream climbing out", stream: "../../x", want: "stream"},
		{name: "absolute stream", stream: "/abs", want: "stream"},
		{name: "dot stream", stream: ".", want: "stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", "")
			if tc.stream != "" {
				e2e.WritePack(t, e.packPath, tc.stream, e2e.File{Name: "a.json", Data: []byte(`{}`)})
			}
			if tc.yaml != "" {
				cfg := filepath.Join(e.root, "epack.yaml")
				y, _ := os.ReadFile(cfg)
				s := strings.Replace(string(y), "target: {workspace: acme, environment: prod}", tc.yaml, 1)
				if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := e.opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			res, err := push.Push(context.Background(), o)
			if exitstatus.Of(err) != exitstatus.BadInput || !errcode.Has(err, errcode.InvalidInput) {
				t.Fatalf("push: %+v, %v (exit %d), want invalid_input", res, err, exitstatus.Of(err))
			}
			if !strings.Contains(err.Error(), tc.want) || errcode.HintOf(err) == "" {
				t.Errorf("error %q (hint %q) does not name the %s and the rule", err, errcode.HintOf(err), tc.want)
			}
			for _, r := range e2e.ReadLog(t, e.state) {
				if r["type"] == "push.prepare" {
					t.Fatal("push.prepare was called with a name the registries refuse")
				}
			}
		})
	}
}
