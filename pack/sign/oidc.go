package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// Environment variables that carry an identity token for keyless signing.
const (
	// EnvOIDCToken holds an OIDC identity token (a JWT for audience sigstore).
	EnvOIDCToken = "EPACK_OIDC_TOKEN"
	// EnvActionsTokenURL and EnvActionsToken are what GitHub Actions sets
	// in a job with "permissions: id-token: write".
	EnvActionsTokenURL = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsToken    = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// Claims are the unverified claims of an identity token, for messages and
// early checks; the certificate authority is what verifies the token.
type Claims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	Email   string `json:"email"`
	Expiry  int64  `json:"exp"`
}

// TokenClaims decodes a JWT's claims without checking its signature.
func TokenClaims(token string) (*Claims, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return nil, errcode.New(errcode.InvalidInput, "the OIDC token is not a JWT (three dot-separated parts)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "the OIDC token's claims are not base64url")
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "the OIDC token's claims are not JSON")
	}
	return &c, nil
}

// checkToken refuses a token that is malformed or already expired before a
// key is generated or a service is contacted.
func checkToken(token string, now time.Time) error {
	c, err := TokenClaims(token)
	if err != nil {
		return err
	}
	if c.Issuer == "" || (c.Subject == "" && c.Email == "") {
		return errcode.New(errcode.InvalidInput, "the OIDC token names no issuer or subject")
	}
	if c.Expiry != 0 && time.Unix(c.Expiry, 0).Before(now) {
		return errcode.New(errcode.AuthRequired, "the OIDC token expired at %s", time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339)).
			WithHint("get a fresh token (they live minutes) and sign again")
	}
	return nil
}

// AmbientToken returns an identity token from the environment: EnvOIDCToken,
// or, inside GitHub Actions with id-token permission, a token for audience
// sigstore fetched from the Actions token service. It returns "" when the
// environment offers none.
func AmbientToken(ctx context.Context, getenv func(string) string, client *http.Client) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if t := strings.TrimSpace(getenv(EnvOIDCToken)); t != "" {
		return t, nil
	}
	reqURL, bearer := getenv(EnvActionsTokenURL), getenv(EnvActionsToken)
	if reqURL == "" || bearer == "" {
		return "", nil
	}
	u, err := url.Parse(reqURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errcode.New(errcode.InvalidInput, "%s is not an http(s) URL", EnvActionsTokenURL)
	}
	q := u.Query()
	q.Set("audience", "sigstore")
	u.RawQuery = q.Encode()
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "building the GitHub Actions token request")
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", errcode.Wrap(errcode.NetworkError, err, "asking GitHub Actions for an identity token")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", errcode.Wrap(errcode.NetworkError, err, "reading the GitHub Actions token answer")
	}
	if resp.StatusCode != http.StatusOK {
		return "", errcode.New(errcode.AuthRequired, "GitHub Actions refused an identity token (HTTP %d)", resp.StatusCode).
			WithHint("give the job \"permissions: id-token: write\"")
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errcode.New(errcode.AuthRequired, "GitHub Actions answered without a token")
	}
	return v.Value, nil
}
