package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Fulcio's issuer extensions: the deprecated raw one and the DER one.
var (
	oidIssuer   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// certAuthority is a Fulcio-shaped CA: a root and the intermediate that
// issues the leaves.
type certAuthority struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159)) }

func newCertAuthority(org string, notBefore time.Time) (*certAuthority, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := notBefore.Add(30 * 24 * time.Hour)
	rootTmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: org},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	if sn, err = serial(); err != nil {
		return nil, err
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: org + "-intermediate"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, rootCert, interKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	interCert, err := x509.ParseCertificate(interDER)
	if err != nil {
		return nil, err
	}
	return &certAuthority{root: rootCert, inter: interCert, interKey: interKey}, nil
}

// issue makes a Fulcio-style leaf: SAN = subject (URI if it has a scheme,
// else email), the issuer extensions, Code Signing, 10 minutes from a
// minute ago.
func (ca *certAuthority) issue(pub crypto.PublicKey, issuer, subject string, notBefore time.Time) ([]byte, error) {
	issuerV2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuer, Value: []byte(issuer)},
			{Id: oidIssuerV2, Value: issuerV2},
		},
	}
	if u, err := url.Parse(subject); err == nil && u.Scheme != "" {
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.inter, pub, ca.interKey)
}

// Token returns an ID token from issuer for subject that Fulcio accepts
// for an hour. A subject without a URL scheme but with an "@" also goes in
// the email claim (verified), as email issuers do.
func (s *Sigstore) Token(t testing.TB, issuer, subject string) string {
	t.Helper()
	now := time.Now()
	return s.mint(t, issuer, subject, now, now.Add(time.Hour))
}

// ExpiredToken is Token, expired an hour ago; Fulcio answers 401.
func (s *Sigstore) ExpiredToken(t testing.TB, issuer, subject string) string {
	t.Helper()
	now := time.Now()
	return s.mint(t, issuer, subject, now.Add(-2*time.Hour), now.Add(-time.Hour))
}

type idClaims struct {
	Issuer        string          `json:"iss"`
	Subject       string          `json:"sub"`
	Audience      json.RawMessage `json:"aud"`
	IssuedAt      int64           `json:"iat"`
	NotBefore     int64           `json:"nbf,omitempty"`
	Expiry        int64           `json:"exp"`
	Email         string          `json:"email,omitempty"`
	EmailVerified bool            `json:"email_verified,omitempty"`
}

func isEmail(subject string) bool {
	u, err := url.Parse(subject)
	return strings.Contains(subject, "@") && (err != nil || u.Scheme == "")
}

// mint signs an ES256 JWT with the OIDC key.
func (s *Sigstore) mint(t testing.TB, issuer, subject string, iat, exp time.Time) string {
	t.Helper()
	c := idClaims{Issuer: issuer, Subject: subject, Audience: json.RawMessage(`"sigstore"`),
		IssuedAt: iat.Unix(), NotBefore: iat.Unix(), Expiry: exp.Unix()}
	if isEmail(subject) {
		c.Email, c.EmailVerified = subject, true
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"alg":"ES256","kid":"sigstoretest","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	r, ss, err := ecdsa.Sign(rand.Reader, s.oidcKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig)
}

// checkToken verifies an ID token as Fulcio would: signature by the OIDC
// key, audience "sigstore", not expired, an issuer and a subject, and a
// verified email if there is one.
func (s *Sigstore) checkToken(tok string, now time.Time) (*idClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact serialization")
	}
	enc := base64.RawURLEncoding
	hdrJSON, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr.Alg != "ES256" {
		return nil, fmt.Errorf("unsupported header %s", hdrJSON)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("malformed signature")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&s.oidcKey.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, errors.New("signature not from the trusted OIDC key")
	}
	payload, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var c idClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	var auds []string
	if err := json.Unmarshal(c.Audience, &auds); err != nil {
		var one string
		if err := json.Unmarshal(c.Audience, &one); err != nil {
			return nil, errors.New("bad aud claim")
		}
		auds = []string{one}
	}
	okAud := false
	for _, a := range auds {
		okAud = okAud || a == "sigstore"
	}
	switch {
	case !okAud:
		return nil, fmt.Errorf("audience %v is not sigstore", auds)
	case now.Unix() >= c.Expiry:
		return nil, fmt.Errorf("token expired at %s", time.Unix(c.Expiry, 0).UTC())
	case c.NotBefore != 0 && now.Unix() < c.NotBefore:
		return nil, errors.New("token not valid yet")
	case c.Issuer == "" || c.Subject == "":
		return nil, errors.New("token lacks iss or sub")
	case c.Email != "" && !c.EmailVerified:
		return nil, errors.New("email not verified")
	}
	return &c, nil
}

// fulcioRequest is Fulcio v2's CreateSigningCertificateRequest in JSON.
type fulcioRequest struct {
	Credentials struct {
		OIDCIdentityToken string `json:"oidcIdentityToken"`
	} `json:"credentials"`
	PublicKeyRequest struct {
		PublicKey struct {
			Algorithm string `json:"algorithm"`
			Content   string `json:"content"`
		} `json:"publicKey"`
		ProofOfPossession string `json:"proofOfPossession"`
	} `json:"publicKeyRequest"`
}

// grpcError writes a gRPC-gateway error body, the shape Fulcio answers with.
func grpcError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": []any{}})
}

// fulcioHandler serves POST /api/v2/signingCert, issuing from ca.
func (s *Sigstore) fulcioHandler(ca *certAuthority) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/signingCert" {
			grpcError(w, http.StatusNotFound, 5, "Not Found")
			return
		}
		if r.Method != http.MethodPost {
			grpcError(w, http.StatusMethodNotAllowed, 12, "Method Not Allowed")
			return
		}
		var req fulcioRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			grpcError(w, http.StatusBadRequest, 3, "There was an error processing the request: "+err.Error())
			return
		}
		now := time.Now()
		tok := req.Credentials.OIDCIdentityToken
		if tok == "" {
			tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		claims, err := s.checkToken(tok, now)
		if err != nil {
			s.t.Logf("sigstoretest: fulcio rejects the identity token: %v", err)
			grpcError(w, http.StatusUnauthorized, 16, "There was an error processing the identity token: "+err.Error())
			return
		}
		pub, err := parsePublicKey(req.PublicKeyRequest.PublicKey.Content)
		if err != nil {
			grpcError(w, http.StatusBadRequest, 3, "The public key supplied in the request could not be parsed: "+err.Error())
			return
		}
		principal := claims.Subject
		if claims.Email != "" {
			principal = claims.Email
		}
		pop, err := base64.StdEncoding.DecodeString(req.PublicKeyRequest.ProofOfPossession)
		if err != nil || !checkPossession(pub, []byte(principal), pop) {
			grpcError(w, http.StatusBadRequest, 3, "The signature supplied in the request could not be verified")
			return
		}
		s.mu.Lock()
		notBefore := now.Add(-time.Minute)
		if s.expireNext {
			s.expireNext = false
			notBefore = now.Add(-30 * time.Minute)
		}
		s.mu.Unlock()
		der, err := ca.issue(pub, claims.Issuer, principal, notBefore)
		if err != nil {
			grpcError(w, http.StatusInternalServerError, 13, "error issuing certificate: "+err.Error())
			return
		}
		var chain []string
		for _, c := range [][]byte{der, ca.inter.Raw, ca.root.Raw} {
			chain = append(chain, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}},
		})
	})
}

func parsePublicKey(content string) (crypto.PublicKey, error) {
	blk, _ := pem.Decode([]byte(content))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM PUBLIC KEY block")
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}

// checkPossession verifies sig over msg with the digest the key's
// algorithm implies (what sigstore-go's keypairs sign with).
func checkPossession(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var d []byte
		switch k.Curve {
		case elliptic.P384():
			h := sha512.Sum384(msg)
			d = h[:]
		case elliptic.P521():
			h := sha512.Sum512(msg)
			d = h[:]
		default:
			h := sha256.Sum256(msg)
			d = h[:]
		}
		return ecdsa.VerifyASN1(k, d, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil || rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, nil) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
