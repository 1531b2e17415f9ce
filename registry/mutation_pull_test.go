package registry_test

import (
	"context"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// A version asked for without its "v" finds the release labelled with it,
// whatever digit it starts with; a version that starts with no digit is
// only looked up as given.
func TestPullVersionWithoutV(t *testing.T) {
	e, reg := suiteEnv(t, registry.Options{})
	dir := t.TempDir()
	_, zero := registrytest.Push(t, e, faultTarget, registrytest.MakePack(t, dir, "a.epack", "pull-v0"), "v0.1")
	_, nine := registrytest.Push(t, e, faultTarget, registrytest.MakePack(t, dir, "b.epack", "pull-v9"), "v9.2")
	registrytest.Push(t, e, faultTarget, registrytest.MakePack(t, dir, "c.epack", "pull-vx"), "vx")
	for _, tc := range []struct {
		version, want string
	}{
		{"0.1", zero.Release.ReleaseID},
		{"v0.1", zero.Release.ReleaseID},
		{"9.2", nine.Release.ReleaseID},
		{"x", ""},
	} {
		resp, err := reg.PullPrepare(context.Background(), &protocol.PullPrepareRequest{Target: faultTarget, Ref: protocol.PullRef{Version: tc.version}})
		if tc.want == "" {
			if registry.CodeOf(err) != protocol.CodeNotFound {
				t.Errorf("version %q: %+v, %v; want not_found", tc.version, resp, err)
			}
			continue
		}
		if err != nil || resp.Pack.ReleaseID != tc.want {
			t.Errorf("version %q: %+v, %v; want release %s", tc.version, resp, err, tc.want)
		}
	}
}
