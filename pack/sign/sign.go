package sign

import (
	"context"
	"crypto"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
)

// Default Sigstore public-good service URLs.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// Options says how to sign. With Key set the bundle is key-signed; without
// it a Fulcio certificate is requested for IDToken (keyless).
type Options struct {
	// Key signs the statement (key signing).
	Key crypto.Signer
	// IDToken is the OIDC identity token for keyless signing.
	IDToken string
	// FulcioURL and RekorURL default to Sigstore's public instance.
	FulcioURL, RekorURL string
	// NoTlog leaves the signature out of the transparency log (key
	// signing only: a keyless certificate lives ten minutes, and only the
	// log's timestamp proves it was valid when the signature was made).
	NoTlog bool
	// TSAURL, when set, adds an RFC 3161 timestamp from that authority.
	TSAURL string
	// Transport, when set, carries the Fulcio and TSA requests (tests).
	Transport http.RoundTripper
	// Timeout bounds each service request (default 30 s).
	Timeout time.Duration
}

// Bundle is a signature made for one pack.
type Bundle struct {
	// JSON is the Sigstore bundle as stored in the pack.
	JSON []byte
	// Entry is the pack entry name (attestations/<id>.sigstore.json).
	Entry string
	// Identity is the signer identity string (hex SHA-256 of the public key).
	Identity string
	// Kind is "key" or "keyless".
	Kind string
}

// Statement returns the in-toto Statement v1 an epack signature covers,
// byte for byte as COMPAT §10.3 prints it, for a manifest digest given as
// "sha256:<hex>" or bare hex.
func Statement(manifestDigest string) ([]byte, error) {
	hexd := strings.TrimPrefix(manifestDigest, "sha256:")
	if raw, err := hex.DecodeString(hexd); err != nil || len(raw) != 32 || strings.ToLower(hexd) != hexd {
		return nil, errcode.New(errcode.InvalidInput, "manifest digest %q is not a SHA-256 digest", manifestDigest)
	}
	return []byte(`{"_type":"` + pack.InTotoStatementType + `","subject":[{"name":"manifest.json","digest":{"sha256":"` + hexd +
		`"}}],"predicateType":"` + pack.AttestationPredicateType + `","predicate":{}}`), nil
}

// NewBundle signs the statement for manifestDigest and returns the bundle
// and the entry it belongs in.
func NewBundle(ctx context.Context, manifestDigest string, o Options) (*Bundle, error) {
	stmt, err := Statement(manifestDigest)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var kp *keypair
	bo := sgsign.BundleOptions{Context: ctx}
	kind := "key"
	if o.Key != nil {
		if kp, err = newKeypair(o.Key); err != nil {
			return nil, err
		}
	} else {
		if o.IDToken == "" {
			return nil, errcode.New(errcode.InvalidInput, "nothing to sign with").
				WithHint("give --key <private.pem> or an OIDC token (--oidc-token, EPACK_OIDC_TOKEN, or GitHub Actions with id-token: write)")
		}
		if o.NoTlog {
			return nil, errcode.New(errcode.InvalidInput, "keyless signing needs the transparency log").
				WithHint("drop --no-tlog: the short-lived certificate is only trusted with the log's timestamp")
		}
		if err := checkToken(o.IDToken, time.Now()); err != nil {
			return nil, err
		}
		if kp, err = ephemeralKeypair(); err != nil {
			return nil, err
		}
		kind = "keyless"
		bo.CertificateProvider = sgsign.NewFulcio(&sgsign.FulcioOptions{
			BaseURL: firstNonEmpty(o.FulcioURL, DefaultFulcioURL), Timeout: timeout, Transport: o.Transport,
		})
		bo.CertificateProviderOptions = &sgsign.CertificateProviderOptions{IDToken: o.IDToken}
	}
	if !o.NoTlog {
		bo.TransparencyLogs = []sgsign.Transparency{sgsign.NewRekor(&sgsign.RekorOptions{
			BaseURL: firstNonEmpty(o.RekorURL, DefaultRekorURL), Timeout: timeout, Version: 1,
		})}
	}
	if o.TSAURL != "" {
		bo.TimestampAuthorities = []*sgsign.TimestampAuthority{sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{
			URL: o.TSAURL, Timeout: timeout, Transport: o.Transport,
		})}
	}
	pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: stmt, PayloadType: pack.InTotoPayloadType}, kp, bo)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errcode.Wrap(errcode.Canceled, ctx.Err(), "signing interrupted")
		}
		return nil, serviceError(kind, err)
	}
	js, err := protojson.Marshal(pb)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encoding the bundle")
	}
	id, err := KeyID(kp.GetPublicKey())
	if err != nil {
		return nil, err
	}
	return &Bundle{JSON: js, Entry: EntryName(id), Identity: id, Kind: kind}, nil
}

// serviceError names which service refused and keeps its words.
func serviceError(kind string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "signingCert") || strings.Contains(strings.ToLower(msg), "fulcio") ||
		strings.Contains(msg, "401") || strings.Contains(msg, "403"):
		return errcode.Wrap(errcode.AuthRequired, err, "the certificate authority refused the signing request").
			WithHint("check that the OIDC token is fresh and meant for audience sigstore, and --fulcio-url")
	case strings.Contains(strings.ToLower(msg), "rekor") || strings.Contains(msg, "log/entries") || strings.Contains(msg, "createLogEntry"):
		hint := "check --rekor-url and the network"
		if kind == "key" {
			hint += ", or add --no-tlog to sign with the key alone, offline (no transparency-log entry)"
		}
		return errcode.Wrap(errcode.NetworkError, err, "the transparency log refused or could not be reached").
			WithHint("%s", hint)
	}
	if kind == "keyless" {
		return errcode.Wrap(errcode.NetworkError, err, "keyless signing failed")
	}
	return errcode.Wrap(errcode.NetworkError, err, "signing failed")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
