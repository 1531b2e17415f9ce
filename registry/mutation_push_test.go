package registry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// push.prepare takes release metadata and pack fields up to their limits
// exactly and refuses one more, before anything is written.
func TestPushPrepareLimits(t *testing.T) {
	labels := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("l%d", i)
		}
		return out
	}
	buildCtx := func(n, keyLen, valLen int) map[string]string {
		out := map[string]string{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("k%03d", i)
			if keyLen > 0 {
				k = k + strings.Repeat("k", keyLen-len(k))
			}
			out[k] = strings.Repeat("v", valLen)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		release protocol.ReleaseInfo
		pack    func(*protocol.PackInfo)
		remote  string
		ok      bool
		refusal string
	}{
		{name: "100 labels", release: protocol.ReleaseInfo{Labels: labels(100)}, ok: true},
		{name: "101 labels", release: protocol.ReleaseInfo{Labels: labels(101)}, refusal: "too many release labels"},
		{name: "a label with a control character", release: protocol.ReleaseInfo{Labels: []string{"ok", "a\x01b"}}, refusal: "label"},
		{name: "labels and notes too long", release: protocol.ReleaseInfo{Labels: []string{"v1"}, Notes: strings.Repeat("n", 64<<10+1)}, refusal: "release notes too long"},
		{name: "notes of 64 KiB", release: protocol.ReleaseInfo{Notes: strings.Repeat("n", 64<<10)}, ok: true},
		{name: "notes of 64 KiB and a byte", release: protocol.ReleaseInfo{Notes: strings.Repeat("n", 64<<10+1)}, refusal: "release notes too long"},
		{name: "256 build_context entries", release: protocol.ReleaseInfo{BuildContext: buildCtx(256, 0, 1)}, ok: true},
		{name: "257 build_context entries", release: protocol.ReleaseInfo{BuildContext: buildCtx(257, 0, 1)}, refusal: "too many build_context entries"},
		{name: "build_context key of 256 bytes, value of 4096", release: protocol.ReleaseInfo{BuildContext: buildCtx(1, 256, 4096)}, ok: true},
		{name: "build_context key of 257 bytes", release: protocol.ReleaseInfo{BuildContext: buildCtx(1, 257, 1)}, refusal: "is too long"},
		{name: "build_context value of 4097 bytes", release: protocol.ReleaseInfo{BuildContext: buildCtx(1, 0, 4097)}, refusal: "is too long"},
		{name: "remote of 255 bytes", remote: strings.Repeat("r", 255), ok: true},
		{name: "remote of 256 bytes", remote: strings.Repeat("r", 256), refusal: "remote is too long"},
		{name: "remote with a unit separator", remote: "a\x1fb", refusal: "control character"},
		{name: "remote with DEL", remote: "a\x7fb", refusal: "control character"},
		{name: "remote with a space and tilde", remote: "a b~", ok: true},
		{name: "pack digest of 255 bytes", pack: func(p *protocol.PackInfo) { p.Digest = strings.Repeat("d", 255) }, ok: true},
		{name: "pack digest of 256 bytes", pack: func(p *protocol.PackInfo) { p.Digest = strings.Repeat("d", 256) }, refusal: "pack.digest is too long"},
		{name: "manifest digest of 256 bytes", pack: func(p *protocol.PackInfo) { p.ManifestDigest = strings.Repeat("d", 256) }, refusal: "pack.manifest_digest is too long"},
		{name: "size of one byte", pack: func(p *protocol.PackInfo) { p.SizeBytes = 1 }, ok: true},
		{name: "size zero", pack: func(p *protocol.PackInfo) { p.SizeBytes = 0 }, refusal: "must be positive"},
		{name: "size at the registry's maximum", pack: func(p *protocol.PackInfo) { p.SizeBytes = 1 << 20 }, ok: true},
		{name: "size over the registry's maximum", pack: func(p *protocol.PackInfo) { p.SizeBytes = 1<<20 + 1 }, refusal: "accepts at most"},
		{name: "checksum of 15 bytes", pack: func(p *protocol.PackInfo) { p.Checksum = "AAAAAAAAAAAAAAAAAAAA" }, refusal: "is not a base64 MD5"},
		{name: "no checksum", pack: func(p *protocol.PackInfo) { p.Checksum = "" }, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			r := newReg(t, &now)
			p := registrytest.MakePack(t, t.TempDir(), "p.epack", "limits")
			info := p.Info()
			if tc.pack != nil {
				tc.pack(&info)
			}
			prep, err := r.PushPrepare(context.Background(), &protocol.PushPrepareRequest{Remote: tc.remote, Target: faultTarget, Pack: info, Release: tc.release})
			if tc.ok {
				if err != nil || prep.FinalizeToken == "" {
					t.Fatalf("refused: %+v, %v", prep, err)
				}
				return
			}
			if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("err = %v, want invalid_request saying %q", err, tc.refusal)
			}
		})
	}
}

// push.finalize checks the pack it is told about against push.prepare: a
// size or pack digest that differs is refused, an omitted one is not.
func TestPushFinalizeChecksThePack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pack    func(p registrytest.Pack) protocol.PackInfo
		refusal string
	}{
		{"same size and digest", func(p registrytest.Pack) protocol.PackInfo {
			return protocol.PackInfo{Digest: p.PackDigest, SizeBytes: int64(len(p.Data))}
		}, ""},
		{"nothing told", func(p registrytest.Pack) protocol.PackInfo { return protocol.PackInfo{} }, ""},
		{"another size", func(p registrytest.Pack) protocol.PackInfo {
			return protocol.PackInfo{SizeBytes: int64(len(p.Data)) + 1}
		}, "pack.size_bytes"},
		{"another pack digest", func(p registrytest.Pack) protocol.PackInfo {
			return protocol.PackInfo{Digest: "sha256:" + strings.Repeat("0", 64)}
		}, "pack.digest differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			r := newReg(t, &now)
			p := registrytest.MakePack(t, t.TempDir(), "p.epack", "finalize-"+tc.name)
			ctx := context.Background()
			prep, err := r.PushPrepare(ctx, &protocol.PushPrepareRequest{Target: faultTarget, Pack: p.Info()})
			if err != nil {
				t.Fatal(err)
			}
			if err := registrytest.Upload(t, prep.Upload, p.Data); err != nil {
				t.Fatal(err)
			}
			fin, err := r.PushFinalize(ctx, &protocol.PushFinalizeRequest{Target: faultTarget, Pack: tc.pack(p), FinalizeToken: prep.FinalizeToken})
			if tc.refusal == "" {
				if err != nil || fin.Release.PackDigest != p.PackDigest {
					t.Fatalf("finalize: %+v, %v", fin, err)
				}
				return
			}
			if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("err = %v, want invalid_request saying %q", err, tc.refusal)
			}
		})
	}
}
