package sign_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/evidencerelay/epack/pack/sign"
)

// FuzzParsePublicKey: a --key file or a remote's signer key, any bytes;
// parsing never panics, and a key it accepts carries its name and the
// KeyID of its key, and reads back the same from its PKIX PEM form.
func FuzzParsePublicKey(f *testing.F) {
	for _, k := range newKeys(f) {
		der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if rk, ok := k.priv.Public().(*rsa.PublicKey); ok {
			f.Add(k.name, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rk)}))
		}
		// A private key where the public one belongs.
		pder, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pder}))
		f.Add(k.name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der[:len(der)/2]}))
	}
	for _, raw := range []string{
		"", "not pem", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
	} {
		f.Add("k.pub", []byte(raw))
	}
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		pk, err := sign.ParsePublicKey(name, raw)
		if err != nil {
			if pk != nil {
				t.Fatalf("error %v with a key %+v", err, pk)
			}
			return
		}
		id, err := sign.KeyID(pk.Key)
		if err != nil || pk.Name != name || pk.ID != id {
			t.Fatalf("accepted %q as %+v; KeyID %q, %v", raw, pk, id, err)
		}
		der, err := x509.MarshalPKIXPublicKey(pk.Key)
		if err != nil {
			t.Fatalf("accepted key does not encode: %v", err)
		}
		again, err := sign.ParsePublicKey(name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil || again.ID != pk.ID {
			t.Fatalf("key %s written as PKIX PEM reads back as %+v, %v", pk.ID, again, err)
		}
	})
}
