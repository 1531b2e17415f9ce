package pack

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

func FuzzOpen(f *testing.F) {
	m := mustJSON(f, testManifest(sample...))
	f.Add(zipPack(f, m, sample))
	f.Add(zipPack(f, mustJSON(f, testManifest()), nil))
	f.Add(zipPack(f, m, sample, ziptest.Entry{Name: "artifacts/link", Data: []byte("x"), Mode: 0o120777}))
	f.Add(zipPack(f, m, []art{{"artifacts/a.json", []byte(`{"a":2}`)}, sample[1]}))
	f.Add(ziptest.Build(ziptest.File("manifest.json", m), ziptest.Dir("artifacts/"),
		ziptest.Entry{Name: "artifacts/a.json", Data: []byte(`{"a":1}`), Raw: []byte("xx")}, ziptest.File("artifacts/sub/b.csv", sample[1].data)))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := OpenReaderAt(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer p.Close()
		_ = p.VerifyIntegrity(context.Background())
		for _, a := range p.Artifacts() {
			_, _ = p.ReadArtifact(a.Path)
			if rc, err := p.OpenArtifact(a.Path); err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
		for _, a := range p.Attestations() {
			_, _ = p.ReadAttestation(a)
		}
		_ = p.Manifest()
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add(mustJSON(f, testManifest(sample...)))
	f.Add([]byte(man("", artJSON("artifacts/a.json", "1.5e3"))))
	f.Add([]byte(man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`","artifacts":1,"embedded_attestations":[{"mediaType":"`+SigstoreBundleMediaType+`","verificationMaterial":{},"dsseEnvelope":{}}]}]}`, "")))
	f.Add([]byte(`{"spec_version":"1.0","controls":["A","B","C","B"],"stream":"stream"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest fails Validate: %v", err)
		}
		c := m.Clone()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		_ = ComputePackDigest(m.Artifacts)
	})
}

// FuzzOpenManifest keeps the ZIP well formed and fuzzes manifest.json and
// one entry name, so the fuzzer reaches decoding and the cross-checks.
func FuzzOpenManifest(f *testing.F) {
	f.Add(mustJSON(f, testManifest(sample...)), "artifacts/sub/b.csv")
	f.Add(mustJSON(f, testManifest(sample[0])), "artifacts/extra")
	f.Add([]byte(man("", artJSON("artifacts/a.json", "7"))), "attestations/x.sigstore.json")
	f.Fuzz(func(t *testing.T, manifest []byte, name string) {
		b := ziptest.Build(ziptest.File("manifest.json", manifest), ziptest.Dir("artifacts/"),
			ziptest.File("artifacts/a.json", sample[0].data), ziptest.File(name, sample[1].data))
		p, err := OpenReaderAt(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		_ = p.VerifyIntegrity(context.Background())
		if len(p.ManifestDigest()) != 71 {
			t.Fatal("manifest digest", p.ManifestDigest())
		}
	})
}
