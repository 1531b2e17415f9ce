package ocistore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"oras.land/oras-go/v2/errdef"
	orasreg "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/evidencerelay/epack/protocol"
)

// conn is the adapter's connection to the registry: an authenticating
// client that follows redirects (for the adapter's own requests) and one
// that does not (to learn where a download would go).
type conn struct {
	cfg        Config
	creds      *credentialSource
	client     *auth.Client
	noRedirect *auth.Client
}

func newConn(cfg Config, o Options) (*conn, error) {
	creds, err := newCredentialSource(cfg.Registry, o.Credentials)
	if err != nil {
		return nil, err
	}
	base := o.Transport
	if base == nil {
		tr, err := newTransport(cfg)
		if err != nil {
			return nil, err
		}
		base = tr
	}
	rt := retry.NewTransport(base)
	cache := auth.NewCache()
	ua := "epack-remote-oci"
	if o.UserAgent != "" {
		ua = o.UserAgent
	}
	mk := func(follow bool) *auth.Client {
		hc := &http.Client{Transport: rt}
		if !follow {
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		}
		c := &auth.Client{Client: hc, Credential: creds.fn, Cache: cache}
		c.SetUserAgent(ua)
		return c
	}
	return &conn{cfg: cfg, creds: creds, client: mk(true), noRedirect: mk(false)}, nil
}

// newTransport is an HTTP transport trusting the system's roots plus
// CAFile, TLS 1.2 or newer, proxies from the environment, with timeouts for
// connecting and for the answer to a request whose body was sent.
func newTransport(cfg Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	tr.ResponseHeaderTimeout = 5 * time.Minute
	tr.TLSHandshakeTimeout = 30 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	// Large buffers: a pack goes out in few, full TLS records.
	tr.WriteBufferSize = 256 << 10
	tr.ReadBufferSize = 256 << 10
	if cfg.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pemBytes, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, bad("reading extensions.ca_file: %v", err)
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, bad("extensions.ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}

// repository returns the oras-go client of one repository.
func (c *conn) repository(path string) *remote.Repository {
	return &remote.Repository{
		Client:           c.client,
		Reference:        orasreg.Reference{Registry: c.cfg.Registry, Repository: path},
		PlainHTTP:        c.cfg.PlainHTTP,
		TagListPageSize:  1000,
		TagListMaxPages:  1000,
		MaxMetadataBytes: 16 << 20,
		// Without a referrers API (distribution 2.8) each referrer pushed
		// replaces the sha256-<hex> index tag; the old index is left to the
		// registry's garbage collection: deleting it needs a permission, and
		// a registry setting, that pushing does not.
		SkipReferrersGC: true,
	}
}

func (c *conn) registryClient() *remote.Registry {
	return &remote.Registry{RepositoryOptions: remote.RepositoryOptions{
		Client: c.client, Reference: orasreg.Reference{Registry: c.cfg.Registry}, PlainHTTP: c.cfg.PlainHTTP,
		MaxMetadataBytes: 16 << 20,
	}}
}

// baseURL is https://<registry> (or http:// with PlainHTTP).
func (c *conn) baseURL() string {
	if c.cfg.PlainHTTP {
		return "http://" + c.cfg.Registry
	}
	return "https://" + c.cfg.Registry
}

// blobURL is the blob's address on the registry.
func (c *conn) blobURL(repo, dgst string) string {
	return c.baseURL() + "/v2/" + repo + "/blobs/" + dgst
}

// fail turns a registry client error into the protocol error the host
// reads: auth_required for refused or missing credentials (saying which
// and how to pass them), forbidden, not_found, rate_limited, server_error
// for the registry's own failures, network_error when it cannot be
// reached, invalid_request for a certificate the adapter does not trust.
func (c *conn) fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	reg := c.cfg.Registry
	var er *errcode.ErrorResponse
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return protocol.Wrapf(protocol.CodeNetworkError, err, "%s: registry %s did not answer in time", what, reg)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return c.authFailed(err, what)
	case errors.As(err, &er):
		switch code := er.StatusCode; {
		case code == http.StatusUnauthorized:
			return c.authFailed(err, what)
		case code == http.StatusForbidden:
			return protocol.Wrapf(protocol.CodeForbidden, err, "%s: registry %s does not allow %s this", what, reg, c.creds.subjectShort())
		case code == http.StatusNotFound:
			return protocol.Wrapf(protocol.CodeNotFound, err, "%s: not found on registry %s", what, reg)
		case code == http.StatusTooManyRequests:
			return protocol.Wrapf(protocol.CodeRateLimited, err, "%s: registry %s is rate limiting", what, reg)
		case code >= 500:
			return protocol.Wrapf(protocol.CodeServerError, err, "%s: registry %s failed", what, reg)
		case code == http.StatusConflict:
			return protocol.Wrapf(protocol.CodeConflict, err, "%s: registry %s refused the change", what, reg)
		default:
			return protocol.Wrapf(protocol.CodeInvalidRequest, err, "%s: registry %s refused the request", what, reg)
		}
	case errors.As(err, &ue), errors.As(err, &he), errors.As(err, &ce), errors.As(err, &tv):
		return protocol.Wrapf(protocol.CodeInvalidRequest, err, "%s: the TLS certificate of registry %s is not trusted: set extensions.ca_file to its CA's PEM file (or SSL_CERT_FILE)", what, reg)
	case errors.Is(err, errdef.ErrNotFound):
		return protocol.Wrapf(protocol.CodeNotFound, err, "%s: not found on registry %s", what, reg)
	case isNetErr(err):
		return protocol.Wrapf(protocol.CodeNetworkError, err, "%s: cannot reach registry %s", what, reg)
	}
	return protocol.Wrapf(protocol.CodeServerError, err, "%s (registry %s)", what, reg)
}

// authFailed is the auth_required answer to a refused (or missing) credential.
func (c *conn) authFailed(err error, what string) error {
	cause := "no credentials"
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		cause = fmt.Sprintf("status %d", er.StatusCode)
		if len(er.Errors) > 0 {
			cause += ": " + strings.ToLower(er.Errors[0].Message)
		}
	}
	e := protocol.Errorf(protocol.CodeAuthRequired, "registry %s refused %s (%s, while %s)", c.cfg.Registry, c.credentialText(), cause, what)
	e.Err = err
	e.Action = &protocol.Action{Type: protocol.ActionRunCommand, Command: "oras login " + c.cfg.Registry}
	return e
}

// credentialText describes the credentials a 401 refused.
func (c *conn) credentialText() string {
	if !c.creds.has() {
		return fmt.Sprintf("anonymous access; pass %s and %s (or %s) through the remote's secrets:, or log in (docker login / oras login %s) so the Docker config has them",
			EnvUsername, EnvPassword, EnvToken, c.cfg.Registry)
	}
	return "the credentials " + c.creds.subject(context.Background(), c.cfg.Registry) + ": check them, and that they may read and write this repository"
}

func (s *credentialSource) subjectShort() string {
	if s.user != "" {
		return "user " + s.user
	}
	if s.from == "" {
		return "anonymous access"
	}
	return "these credentials (" + s.from + ")"
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &ue) && !strings.Contains(ue.Err.Error(), "certificate"))
}

// notFound reports whether err means the thing asked for is not there.
func notFound(err error) bool {
	var er *errcode.ErrorResponse
	return errors.Is(err, errdef.ErrNotFound) || errors.As(err, &er) && er.StatusCode == http.StatusNotFound
}

// hasErrorCode reports whether err is a registry error answer with code.
func hasErrorCode(err error, code string) bool {
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	for _, e := range er.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}
