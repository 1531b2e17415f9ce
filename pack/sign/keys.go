package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/youmark/pkcs8"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// maxKeyFile bounds a key file read; PEM keys are a few KiB.
const maxKeyFile = 64 << 10

// EnvKeyPassword names the passphrase of an encrypted private key when no
// terminal can ask for it (CI).
const EnvKeyPassword = "EPACK_KEY_PASSWORD"

// Passphrase returns the passphrase of an encrypted key; it is called only
// when the key is encrypted.
type Passphrase func() ([]byte, error)

// PrivateKey is a signing key loaded from a file.
type PrivateKey struct {
	Signer crypto.Signer
	// Warnings are problems that do not stop signing (a private key that
	// other users can read).
	Warnings []string
}

// LoadPrivateKey reads a PEM private key: EC (SEC 1), PKCS#8 (EC, Ed25519,
// RSA), PKCS#1 RSA, encrypted PKCS#8 or a legacy encrypted PEM block. A
// symbolic link is refused (a key is exactly the file named); a key other
// users can read is accepted with a warning.
func LoadPrivateKey(path string, pass Passphrase) (*PrivateKey, error) {
	raw, mode, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k := &PrivateKey{}
	if mode.Perm()&0o077 != 0 {
		k.Warnings = append(k.Warnings, fmt.Sprintf("private key %s can be read by other users (mode %04o); run chmod 600 %s", path, mode.Perm(), path))
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errcode.New(errcode.InvalidInput, "%s is not a PEM file", path).
			WithHint("give a PEM private key (BEGIN EC PRIVATE KEY, PRIVATE KEY or RSA PRIVATE KEY)")
	}
	key, err := parsePrivateBlock(block, pass)
	if err != nil {
		return nil, fmt.Errorf("reading private key %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errcode.New(errcode.InvalidInput, "%s: unsupported private key type %T", path, key)
	}
	if _, err := algorithmFor(signer.Public()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	k.Signer = signer
	return k, nil
}

func parsePrivateBlock(block *pem.Block, pass Passphrase) (any, error) {
	bad := func(err error) error {
		return errcode.Wrap(errcode.InvalidInput, err, "malformed %s", block.Type)
	}
	askPass := func() ([]byte, error) {
		if pass == nil {
			return nil, errcode.New(errcode.InvalidInput, "the key is encrypted and no passphrase was given").
				WithHint("set %s or run on a terminal", EnvKeyPassword)
		}
		return pass()
	}
	//nolint:staticcheck // legacy encrypted PEM is still what some tools write
	if x509.IsEncryptedPEMBlock(block) {
		pw, err := askPass()
		if err != nil {
			return nil, err
		}
		der, err := x509.DecryptPEMBlock(block, pw) //nolint:staticcheck
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "wrong passphrase or damaged key")
		}
		block = &pem.Block{Type: block.Type, Bytes: der}
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, bad(err)
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, bad(err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, bad(err)
		}
		return k, nil
	case "ENCRYPTED PRIVATE KEY":
		pw, err := askPass()
		if err != nil {
			return nil, err
		}
		k, err := pkcs8.ParsePKCS8PrivateKey(block.Bytes, pw)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "wrong passphrase or damaged encrypted key")
		}
		return k, nil
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, errcode.New(errcode.InvalidInput, "this is a %s, not a private key", block.Type).
			WithHint("sign with the private key; give the public key to verify")
	}
	return nil, errcode.New(errcode.InvalidInput, "unsupported PEM block %q", block.Type).
		WithHint("use an EC, Ed25519 or RSA key in PEM (SEC 1, PKCS#8 or PKCS#1)")
}

// PublicKey is a verification key loaded from a file.
type PublicKey struct {
	Name string // what the user called it (the path), for messages
	Key  crypto.PublicKey
	ID   string // KeyID of Key
}

// LoadPublicKey reads a PEM public key (PKIX "PUBLIC KEY" or PKCS#1 "RSA
// PUBLIC KEY"), refusing a symbolic link.
func LoadPublicKey(path string) (*PublicKey, error) {
	raw, _, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(path, raw)
}

// ParsePublicKey parses a PEM public key; name labels it in messages.
func ParsePublicKey(name string, raw []byte) (*PublicKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errcode.New(errcode.InvalidInput, "%s is not a PEM file", name).WithHint("give a PEM public key (BEGIN PUBLIC KEY)")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		if _, perr := parsePrivateBlock(block, nil); perr == nil || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errcode.New(errcode.InvalidInput, "%s holds a private key; verify with the public key", name).
				WithHint("extract it with: openssl pkey -in %s -pubout", name)
		}
		return nil, errcode.New(errcode.InvalidInput, "%s: unsupported PEM block %q for a public key", name, block.Type)
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "%s: malformed public key", name)
	}
	if _, err := algorithmFor(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &PublicKey{Name: name, Key: pub, ID: id}, nil
}

func readKeyFile(path string) ([]byte, os.FileMode, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, 0, errcode.Wrap(errcode.InvalidInput, err, "key path %q", path)
	}
	fi, err := os.Lstat(abs)
	switch {
	case err != nil:
		return nil, 0, errcode.Wrap(errcode.InvalidInput, err, "reading key %s", path)
	case fi.Mode()&os.ModeSymlink != 0:
		return nil, 0, errcode.New(errcode.SymlinkNotAllowed, "key %s is a symbolic link", path).
			WithHint("name the key file itself, not a link to it")
	case !fi.Mode().IsRegular():
		return nil, 0, errcode.New(errcode.InvalidInput, "key %s is not a regular file", path)
	}
	raw, err := safefile.ReadFileNoFollow(filepath.Dir(abs), filepath.Base(abs), maxKeyFile)
	if err != nil {
		return nil, 0, errcode.Wrap(errcode.InvalidInput, err, "reading key %s", path)
	}
	return raw, fi.Mode(), nil
}

// KeyID is the signer identity string COMPAT §10.3 defines for a key: the
// lowercase hex SHA-256 of its PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "encoding public key")
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// EntryName is the pack entry a signer's bundle lives in:
// attestations/<hex sha256 of the identity string>.sigstore.json.
func EntryName(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return "attestations/" + hex.EncodeToString(sum[:]) + ".sigstore.json"
}

// algorithmFor picks the Sigstore algorithm for a key: ECDSA with the hash
// matching its curve, Ed25519, or RSA PKCS#1 v1.5 with SHA-256.
func algorithmFor(pub crypto.PublicKey) (signature.AlgorithmDetails, error) {
	var d protocommon.PublicKeyDetails
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
		case elliptic.P384():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
		case elliptic.P521():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
		default:
			return signature.AlgorithmDetails{}, errcode.New(errcode.InvalidInput, "unsupported EC curve %s", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		d = protocommon.PublicKeyDetails_PKIX_ED25519
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256
		case 3072:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256
		case 4096:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256
		default:
			return signature.AlgorithmDetails{}, errcode.New(errcode.InvalidInput, "RSA key of %d bits is not supported (2048, 3072 or 4096)", k.N.BitLen())
		}
	default:
		return signature.AlgorithmDetails{}, errcode.New(errcode.InvalidInput, "unsupported key type %T (EC P-256/P-384/P-521, Ed25519 or RSA)", pub)
	}
	return signature.GetAlgorithmDetails(d)
}

// keypair adapts a loaded key to sigstore-go's signer. Its hint is empty:
// COMPAT §10.3 — key-signed bundles carry "publicKey": {} and verifiers
// find the key by trying the ones they were given.
type keypair struct {
	priv crypto.Signer
	alg  signature.AlgorithmDetails
}

var _ sgsign.Keypair = (*keypair)(nil)

func newKeypair(priv crypto.Signer) (*keypair, error) {
	alg, err := algorithmFor(priv.Public())
	if err != nil {
		return nil, err
	}
	return &keypair{priv: priv, alg: alg}, nil
}

// ephemeralKeypair is a fresh P-256 key for one keyless signature.
func ephemeralKeypair() (*keypair, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "generating a signing key")
	}
	return newKeypair(k)
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.alg.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.alg.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return nil }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.priv.Public() }

func (k *keypair) GetKeyAlgorithm() string {
	switch k.alg.GetKeyType() {
	case signature.ECDSA:
		return "ECDSA"
	case signature.RSA:
		return "RSA"
	case signature.ED25519:
		return "ED25519"
	}
	return ""
}

func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.priv.Public())
	return string(b), err
}

// SignData signs data: ECDSA and RSA sign its digest, Ed25519 the data.
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	hf := k.alg.GetHashType()
	msg := data
	if hf != crypto.Hash(0) {
		h := hf.New()
		h.Write(data)
		msg = h.Sum(nil)
	}
	sig, err := k.priv.Sign(rand.Reader, msg, hf)
	if err != nil {
		return nil, nil, errors.Join(errcode.New(errcode.Internal, "signing failed"), err)
	}
	return sig, msg, nil
}
