package ocistore

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry/registrytest"
)

// signedTestPack writes a pack whose attestations are real key signatures
// (one per key) of manifestHex, plus a bundle over another manifest and
// an entry outside attestations/ that merely looks like one; it returns
// the pack (its pack digest set to manifestHex, as the host sends it) and
// the bundles that sign it, by entry name.
func signedTestPack(t *testing.T, dir, name, manifestHex string, keys int) (registrytest.Pack, map[string][]byte) {
	t.Helper()
	bundle := func(hexd string) *sign.Bundle {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sign.NewBundle(ctxT(t), hexd, sign.Options{Key: k, NoTlog: true})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(entry string, data []byte) {
		w, err := zw.Create(entry)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("manifest.json", []byte(`{"spec_version":"1.0","stream":"acme/prod","seed":"`+name+`"}`))
	want := map[string][]byte{}
	for i := 0; i < keys; i++ {
		b := bundle(manifestHex)
		add(b.Entry, b.JSON)
		want[b.Entry] = b.JSON
	}
	other := sha256.Sum256([]byte("another manifest"))
	stray := bundle(hex.EncodeToString(other[:]))
	add(stray.Entry, stray.JSON)
	add("artifacts/"+strings.TrimPrefix(stray.Entry, "attestations/"), want[firstKey(want)])
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := registrytest.WritePack(t, filepath.Join(dir, name), buf.Bytes())
	p.PackDigest = "sha256:" + manifestHex
	return p, want
}

func firstKey(m map[string][]byte) string {
	for k := range m {
		return k
	}
	return ""
}

// signatureReferrers returns the bundles listed as signature referrers of
// subject, by the pack entry they came from.
func signatureReferrers(t *testing.T, e *env, repo *remote.Repository, subject ocispec.Descriptor) map[string][]byte {
	t.Helper()
	fresh := e.reg.c.repository(repo.Reference.Repository)
	var refs []ocispec.Descriptor
	err := fresh.Referrers(ctxT(t), subject, SignatureArtifactType, func(page []ocispec.Descriptor) error {
		refs = append(refs, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, d := range refs {
		it, err := e.reg.readReferrer(ctxT(t), fresh, signatureKind, sigTagFromDesc(t, e, fresh, d))
		if err != nil || it == nil {
			t.Fatalf("referrer %s: %v", d.Digest, err)
		}
		rc, err := fresh.Blobs().Fetch(ctxT(t), it.m.Layers[0])
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if it.m.Subject == nil || it.m.Subject.Digest != subject.Digest {
			t.Fatalf("signature %s refers to %v, want %s", d.Digest, it.m.Subject, subject.Digest)
		}
		out[d.Annotations[AnnotationSignatureEntry]] = data
	}
	return out
}

// sigTagFromDesc finds the sig- tag that names referrer d.
func sigTagFromDesc(t *testing.T, e *env, repo *remote.Repository, d ocispec.Descriptor) string {
	t.Helper()
	tags, err := e.reg.tagsWithPrefix(ctxT(t), repo, "sig-")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		got, err := e.reg.resolveTag(ctxT(t), repo, tag)
		if err != nil {
			t.Fatal(err)
		}
		if got == string(d.Digest) {
			return tag
		}
	}
	t.Fatalf("no sig- tag names referrer %s (tags %v)", d.Digest, tags)
	return ""
}

// TestSignatureReferrers: each signature in a pushed pack becomes a
// referrer of its release with the bundle's bytes; a bundle over another
// manifest and look-alike entries outside attestations/ do not; a label
// merge (a new manifest) takes them along; pushing the same pack again
// stores nothing new; an unsigned pack gets none.
func TestSignatureReferrers(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	mh := sha256.Sum256([]byte("signed manifest"))
	p, want := signedTestPack(t, dir, "signed.epack", hex.EncodeToString(mh[:]), 2)
	fin := e.mustPush(t, p, "v1")
	if got := fin.Extensions["signature_referrers"]; got != 2 {
		t.Fatalf("finalize extensions %v, want signature_referrers 2", fin.Extensions)
	}
	path, _ := e.cfg.Repository(target)
	repo := e.reg.c.repository(path)
	f, err := e.reg.lookup(ctxT(t), repo, fin.Release.ReleaseID)
	if err != nil || f == nil {
		t.Fatalf("release %v %v", f, err)
	}
	check := func(subject ocispec.Descriptor, when string) {
		t.Helper()
		got := signatureReferrers(t, e, repo, subject)
		if len(got) != len(want) {
			t.Fatalf("%s: %d signature referrers, want %d", when, len(got), len(want))
		}
		for entry, data := range want {
			if !bytes.Equal(got[entry], data) {
				t.Fatalf("%s: referrer for %s has other bytes than the pack's bundle", when, entry)
			}
		}
	}
	check(f.desc, "after the push")
	sigTags := func() []string {
		tags, err := e.reg.tagsWithPrefix(ctxT(t), repo, "sig-")
		if err != nil {
			t.Fatal(err)
		}
		return tags
	}
	before := sigTags()
	if len(before) != 2 {
		t.Fatalf("sig- tags %v, want 2", before)
	}

	// The merge comes from a machine without the file: the release's
	// manifest changes and the stored signatures go with it.
	elsewhere := p
	elsewhere.Path = ""
	if _, _, err := e.push(t, target, elsewhere, protocol.ReleaseInfo{Labels: []string{"extra"}}); err != nil {
		t.Fatal(err)
	}
	merged, err := e.reg.lookup(ctxT(t), repo, fin.Release.ReleaseID)
	if err != nil || merged.desc.Digest == f.desc.Digest || !slices.Contains(merged.rel.Labels, "extra") {
		t.Fatalf("merge gave no new manifest: %v %v", merged, err)
	}
	check(merged.desc, "after a label merge")
	again := e.mustPush(t, p, "v1")
	if got := sigTags(); !slices.Equal(got, before) {
		t.Fatalf("a repeated push changed the signature tags: %v, was %v", got, before)
	}
	if again.Extensions["signature_referrers"] != 2 {
		t.Fatalf("repeated push extensions %v", again.Extensions)
	}
	check(merged.desc, "after a repeated push")

	plain := registrytest.MakePack(t, dir, "plain.epack", "unsigned-oci")
	pf := e.mustPush(t, plain, "v2")
	if _, ok := pf.Extensions["signature_referrers"]; ok {
		t.Fatalf("unsigned pack: %v", pf.Extensions)
	}
	if got := sigTags(); !slices.Equal(got, before) {
		t.Fatalf("an unsigned pack added signature tags: %v", got)
	}
}

// TestSignatureReferrersNeedThePushedFile: a path that is not the pushed
// file (other size) or not absolute gives no referrers, and the push
// still succeeds.
func TestSignatureReferrersNeedThePushedFile(t *testing.T) {
	dir := t.TempDir()
	mh := sha256.Sum256([]byte("m"))
	p, _ := signedTestPack(t, dir, "s.epack", hex.EncodeToString(mh[:]), 1)
	for _, c := range []struct {
		name string
		path string
		size int64
	}{
		{"other size", p.Path, int64(len(p.Data)) - 1},
		{"missing", filepath.Join(dir, "none.epack"), int64(len(p.Data))},
	} {
		sigs, err := packSignatures(c.path, c.size, hex.EncodeToString(mh[:]))
		if len(sigs) != 0 {
			t.Errorf("%s: %d signatures read", c.name, len(sigs))
		}
		if c.name == "missing" && err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if sigs, err := packSignatures(p.Path, int64(len(p.Data)), hex.EncodeToString(mh[:])); err != nil || len(sigs) != 1 {
		t.Fatalf("the pushed file: %d signatures, %v", len(sigs), err)
	}
	e := &Registry{}
	if n, err := e.attachReleaseSignatures(ctxT(t), nil, &pushIn{Size: int64(len(p.Data)), ManifestDigest: hex.EncodeToString(mh[:])}, "relative/s.epack", "rel_x"); n != 0 || err != nil {
		t.Fatalf("relative path: %d %v", n, err)
	}
}

// FuzzBundleSigns: any bytes from a pack's attestations/ are parsed
// without panicking, and only a statement naming the digest matches.
func FuzzBundleSigns(f *testing.F) {
	f.Add([]byte(`{"dsseEnvelope":{"payload":"eyJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiYWIifX1dfQ=="}}`), "ab")
	f.Add([]byte(`{"dsseEnvelope":null}`), "ab")
	f.Add([]byte(`[]`), "")
	f.Fuzz(func(t *testing.T, data []byte, hexd string) {
		if !bundleSigns(data, hexd) {
			return
		}
		if hexd == "" || !strings.Contains(string(data), `"payload"`) || !strings.Contains(string(data), `"dsseEnvelope"`) {
			t.Fatalf("matched %q for %q without an exact dsseEnvelope.payload naming it", data, hexd)
		}
	})
}

// A statement matches only through the exact keys of the bundle format and
// only a digest that is there: case variants, repeated keys and an empty
// manifest digest do not (fuzz seed 22943e9b66b61e37 matched "pAYload").
func TestBundleSignsExactKeys(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	good := b64(`{"subject":[{"digest":{"sha256":"ab"}}]}`)
	for _, c := range []struct {
		name, bundle, hex string
		want              bool
	}{
		{"the form", `{"dsseEnvelope":{"payload":"` + good + `"}}`, "ab", true},
		{"other digest", `{"dsseEnvelope":{"payload":"` + good + `"}}`, "cd", false},
		{"empty digest wanted", `{"dsseEnvelope":{"payload":"` + b64(`{"subject":[{"digest":{"":"ab"}}]}`) + `"}}`, "", false},
		{"payload case", `{"dsseEnvelope":{"pAYload":"` + good + `"}}`, "ab", false},
		{"envelope case", `{"DsseEnvelope":{"payload":"` + good + `"}}`, "ab", false},
		{"subject case", `{"dsseEnvelope":{"payload":"` + b64(`{"Subject":[{"digest":{"sha256":"ab"}}]}`) + `"}}`, "ab", false},
		{"digest case", `{"dsseEnvelope":{"payload":"` + b64(`{"subject":[{"Digest":{"sha256":"ab"}}]}`) + `"}}`, "ab", false},
		{"sha256 case", `{"dsseEnvelope":{"payload":"` + b64(`{"subject":[{"digest":{"SHA256":"ab"}}]}`) + `"}}`, "ab", false},
		{"repeated payload", `{"dsseEnvelope":{"payload":"` + good + `","payload":"x"}}`, "ab", false},
		{"repeated in statement", `{"dsseEnvelope":{"payload":"` + b64(`{"subject":[],"subject":[{"digest":{"sha256":"ab"}}]}`) + `"}}`, "ab", false},
		{"null envelope", `{"dsseEnvelope":null}`, "ab", false},
	} {
		if got := bundleSigns([]byte(c.bundle), c.hex); got != c.want {
			t.Errorf("%s: bundleSigns = %v, want %v", c.name, got, c.want)
		}
	}
}
