package pack

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// An attestation of exactly MaxAttestationSize bytes is read whole, by
// ReadAttestation and into VerifyFile's bundles; one byte more is refused.
// Names that are not attestation paths, or not in the pack, are refused.
func TestReadAttestationLimits(t *testing.T) {
	const name = "attestations/k.sigstore.json"
	build := func(size int, deflate bool) []byte {
		data := make([]byte, size)
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range data {
			data[i] = 'a' + byte(rng.IntN(26))
		}
		return zipPack(t, mustJSON(t, testManifest(sample...)), sample,
			ziptest.Dir("attestations/"), ziptest.Entry{Name: name, Data: data, Deflate: deflate})
	}
	tests := []struct {
		name    string
		size    int
		deflate bool
		ok      bool
	}{
		{"stored, at the limit", MaxAttestationSize, false, true},
		{"deflated, at the limit", MaxAttestationSize, true, true},
		{"stored, one byte over", MaxAttestationSize + 1, false, false},
		{"deflated, one byte over", MaxAttestationSize + 1, true, false},
		{"empty", 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := build(tc.size, tc.deflate)
			p, err := openBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.ReadAttestation(name)
			f, ferr := os.Open(writeTemp(t, b))
			if ferr != nil {
				t.Fatal(ferr)
			}
			defer f.Close()
			v, verr := VerifyFile(context.Background(), f, VerifyOptions{})
			if !tc.ok {
				wantCode(t, err, errcode.AttestationTooLarge)
				wantCode(t, verr, errcode.AttestationTooLarge)
				return
			}
			if err != nil || len(got) != tc.size {
				t.Fatalf("read %d of %d bytes: %v", len(got), tc.size, err)
			}
			if verr != nil || len(v.Bundles[name]) != tc.size || !bytes.Equal(v.Bundles[name], got) {
				t.Fatalf("VerifyFile: %v, bundle of %d bytes", verr, len(v.Bundles[name]))
			}
		})
	}
	p, err := openBytes(build(10, false))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.ReadAttestation("artifacts/a.json")
	wantCode(t, err, errcode.InvalidPath)
	_, err = p.ReadAttestation("attestations/other.sigstore.json")
	wantCode(t, err, errcode.MissingEntry)
}
