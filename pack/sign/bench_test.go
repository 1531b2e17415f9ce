package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
)

// BenchmarkCheck10Signatures is the signature part of 'epack verify' for a
// pack with ten key signatures and the ten keys in the policy. Each entry is
// named after its key (as every signer names it) and keysFor tries that key
// first, so this is one signature check per bundle: the common case, not
// the worst one (entries not named after any given key are tried against
// every key in turn). P-256 keys only; BenchmarkVerifyFile10Signatures
// measures the whole verify with mixed curves.
func BenchmarkCheck10Signatures(b *testing.B) {
	bundles := map[string][]byte{}
	var pol sign.Policy
	for i := 0; i < 10; i++ {
		k := newKeys(b)[0] // P-256, what signers use by default
		bl, err := sign.NewBundle(context.Background(), digestA, sign.Options{Key: k.priv, NoTlog: true})
		if err != nil {
			b.Fatal(err)
		}
		bundles[bl.Entry] = bl.JSON
		_, pubPath := writeKeys(b, b.TempDir(), testKey{name: fmt.Sprint("k", i), priv: k.priv}, "pkcs8")
		pub, err := sign.LoadPublicKey(pubPath)
		if err != nil {
			b.Fatal(err)
		}
		pol.Keys = append(pol.Keys, pub)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := sign.Check(digestA, bundles, pol).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFile10Signatures is what issue 13's budget is about ("10
// signatures add under 20 ms to 'epack verify' of a small pack"): the
// library part of 'epack verify --key ×10' on a small pack signed by ten
// keys, five P-256 and five P-384: open the file, pack.VerifyFile (the same
// options as the CLI), load the ten public keys and check every signature.
// The integrity-only sub-benchmark is the same pack without the signature
// check, so the difference is what the signatures add. The process start
// and output of the CLI are not included.
func BenchmarkVerifyFile10Signatures(b *testing.B) {
	path := buildPack(b)
	dir := b.TempDir()
	var pubPaths []string
	for i := 0; i < 10; i++ {
		curve := elliptic.P256()
		if i%2 == 1 {
			curve = elliptic.P384()
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sign.SignFile(context.Background(), path, sign.Options{Key: k, NoTlog: true}, false); err != nil {
			b.Fatal(err)
		}
		_, pub := writeKeys(b, dir, testKey{name: fmt.Sprint("k", i), priv: k}, "pkcs8")
		pubPaths = append(pubPaths, pub)
	}
	opts := pack.VerifyOptions{SkipMD5: func() bool { return true }}
	verifyOnce := func(b *testing.B, signatures bool) {
		f, _, err := pack.OpenRegular(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		v, err := pack.VerifyFile(context.Background(), f, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(v.Bundles) != 10 {
			b.Fatalf("%d signatures in the pack", len(v.Bundles))
		}
		if !signatures {
			return
		}
		var pol sign.Policy
		for _, p := range pubPaths {
			pk, err := sign.LoadPublicKey(p)
			if err != nil {
				b.Fatal(err)
			}
			pol.Keys = append(pol.Keys, pk)
		}
		rep := sign.Check(v.ManifestDigest, v.Bundles, pol)
		if err := rep.Err(); err != nil {
			b.Fatal(err)
		}
		for _, s := range rep.Signatures {
			if !s.Allowed {
				b.Fatalf("%s: %s", s.Entry, s.Error)
			}
		}
	}
	b.Run("integrity-only", func(b *testing.B) {
		for b.Loop() {
			verifyOnce(b, false)
		}
	})
	b.Run("10-signatures-p256-p384", func(b *testing.B) {
		for b.Loop() {
			verifyOnce(b, true)
		}
	})
}
