package pull_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pull"
)

// Result.PackDigest is the pulled manifest's pack_digest, the one build,
// inspect and push print, so 'pull --json' can show it beside the file digest.
func TestPullResultHasPackDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	out := filepath.Join(t.TempDir(), "p.epack")
	o := e.opts(out)
	res, err := pull.Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pack.Open(e.packPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if want := p.Manifest().PackDigest; res.PackDigest != want || !pack.IsDigest(res.PackDigest) {
		t.Errorf("PackDigest %q, want %q", res.PackDigest, want)
	}
}
