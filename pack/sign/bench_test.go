package sign_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/evidencerelay/epack/pack/sign"
)

// BenchmarkCheck10Signatures is the signature part of 'epack verify' for a
// pack with ten key signatures and the ten keys in the policy (the worst
// case: each bundle is tried against the keys until one fits). Budget:
// under 20 ms (ARCHITECTURE §5).
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
