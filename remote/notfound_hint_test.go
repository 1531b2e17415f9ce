package remote

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
)

// A missing bundled adapter: the hint says what the README says (adapters
// sit next to epack; go install …/cmd/...@latest puts them there), then
// to pin it, not to install it on PATH (a PATH adapter runs only once pinned).
func TestNotFoundHintPutsTheAdapterNextToEpack(t *testing.T) {
	err := notFoundError(&config.Remote{}, &Resolved{Remote: "local", Adapter: "filesystem"})
	if !errcode.Has(err, errcode.AdapterNotFound) {
		t.Fatalf("code: %v", err)
	}
	h := errcode.HintOf(err)
	for _, want := range []string{"put epack-remote-filesystem next to epack", "go install github.com/evidencerelay/epack/cmd/...@latest", "then run 'epack lock local'"} {
		if !strings.Contains(h, want) {
			t.Errorf("hint lacks %q: %s", want, h)
		}
	}
	if strings.Contains(h, "on PATH") {
		t.Errorf("hint still says to install on PATH: %s", h)
	}
}
