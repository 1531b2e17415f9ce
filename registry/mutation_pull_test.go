package registry_test

import (
	"context"
	"encoding/json"
	"strings"
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

// pull.finalize records the fetch, with the release its token names; it
// needs no token, and refuses a malformed one or one for another pack.
func TestPullFinalizeToken(t *testing.T) {
	e, reg := suiteEnv(t, registry.Options{})
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "pull-finalize")
	_, fin := registrytest.Push(t, e, faultTarget, p)
	ctx := context.Background()
	prep, err := reg.PullPrepare(ctx, &protocol.PullPrepareRequest{Target: faultTarget, Ref: protocol.PullRef{Latest: true}})
	if err != nil {
		t.Fatal(err)
	}
	fetched := func() map[string]int {
		t.Helper()
		ents, err := e.Store.List(ctx, "pulls/"+p.FileHex+"/", 0)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, en := range ents {
			data, _, err := e.Store.Get(ctx, en.Key, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				ReleaseID string `json:"release_id"`
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			ids[rec.ReleaseID]++
		}
		return ids
	}
	for _, tc := range []struct {
		name, digest, token, refusal string
	}{
		{"with its token", p.FileDigest, prep.FinalizeToken, ""},
		{"without a token", p.FileDigest, "", ""},
		{"a malformed token", p.FileDigest, "pt_!!", "malformed pull finalize_token"},
		{"a token without its prefix", p.FileDigest, strings.TrimPrefix(prep.FinalizeToken, "pt_"), "malformed pull finalize_token"},
		{"the token of another pack", "sha256:" + strings.Repeat("0", 64), prep.FinalizeToken, "differs from the one pull.prepare returned"},
	} {
		resp, err := reg.PullFinalize(ctx, &protocol.PullFinalizeRequest{Target: faultTarget, Digest: tc.digest, FinalizeToken: tc.token})
		if tc.refusal == "" {
			if err != nil || !resp.Confirmed {
				t.Errorf("%s: %+v, %v", tc.name, resp, err)
			}
			continue
		}
		if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), tc.refusal) {
			t.Errorf("%s: err = %v, want invalid_request saying %q", tc.name, err, tc.refusal)
		}
	}
	if got := fetched(); len(got) != 2 || got[fin.Release.ReleaseID] != 1 || got[""] != 1 {
		t.Fatalf("fetch records by release: %v, want one for %s and one without", got, fin.Release.ReleaseID)
	}
}
