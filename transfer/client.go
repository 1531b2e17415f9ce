package transfer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/retry"
)

// DefaultStallTimeout ends an attempt that moves no bytes for this long.
const DefaultStallTimeout = 2 * time.Minute

// errBodyKept is how much of an error response body is kept for messages.
const errBodyKept = 1024

// Client moves bytes. The zero value works (it uses a NewClient transport).
type Client struct {
	HTTP  *http.Client
	Retry RetryPolicy
	// StallTimeout ends an attempt (retryably) when no body bytes move for
	// this long; 0 means DefaultStallTimeout. There is no overall timeout:
	// big packs take as long as they take while they make progress.
	StallTimeout time.Duration
}

// NewClient returns a Client with its own transport: TLS 1.2 or newer,
// proxies from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (never for loopback hosts),
// dial, TLS-handshake and response-header timeouts, no transparent gzip (so
// sizes and ranges refer to the stored bytes), and the default retry policy.
func NewClient() *Client {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: DefaultStallTimeout,
		ExpectContinueTimeout: 2 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		DisableCompression:    true,
	}
	return &Client{HTTP: &http.Client{Transport: tr}, Retry: DefaultRetryPolicy}
}

var defaultHTTP = NewClient().HTTP

func (c *Client) httpClient() *http.Client {
	if c == nil || c.HTTP == nil {
		return defaultHTTP
	}
	return c.HTTP
}

func (c *Client) retryPolicy() RetryPolicy {
	if c == nil {
		return DefaultRetryPolicy
	}
	return c.Retry
}

func (c *Client) stallTimeout() time.Duration {
	if c == nil || c.StallTimeout <= 0 {
		return DefaultStallTimeout
	}
	return c.StallTimeout
}

// errStalled is the cancel cause of an attempt that made no progress.
var errStalled = errors.New("no data moved")

// watchdog cancels an attempt when touch is not called for the stall timeout.
type watchdog struct {
	last   atomic.Int64
	cancel context.CancelCauseFunc
	done   chan struct{}
}

func startWatchdog(parent context.Context, stall time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{cancel: cancel, done: make(chan struct{})}
	w.touch()
	tick := max(stall/8, 5*time.Millisecond)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if time.Since(time.Unix(0, w.last.Load())) > stall {
					cancel(fmt.Errorf("%w for %s", errStalled, stall))
					return
				}
			}
		}
	}()
	return ctx, w
}

func (w *watchdog) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) stop() {
	close(w.done)
	w.cancel(nil)
}

// networkError classifies an error from sending a request or reading a body.
// parent is the caller's context: when it has ended, the error is final.
// Certificate problems and malformed requests are not retried; everything
// else at the network level (resets, EOFs, timeouts, refused connections,
// stalls) is.
func networkError(parent, attempt context.Context, code errcode.Code, what string, err error) error {
	if parent.Err() != nil {
		return ctxError(parent, err)
	}
	if cause := context.Cause(attempt); errors.Is(cause, errStalled) {
		return &transient{Err: errcode.Wrap(errcode.Timeout, cause, "%s", what)}
	}
	// Our own coded errors (from the body reader or the redirect check)
	// already say what they are.
	var ce *errcode.Error
	if errors.As(err, &ce) {
		return err
	}
	var (
		certErr   *tls.CertificateVerificationError
		unknown   x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		alert     tls.AlertError
		recordErr tls.RecordHeaderError
		dnsErr    *net.DNSError
		netError  net.Error
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &invalid):
		return errcode.Wrap(code, err, "%s: TLS certificate not trusted", what)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return errcode.Wrap(errcode.NetworkError, err, "%s", what).WithHint("check the host name in the URL the adapter returned")
	case errors.As(err, &netError) && netError.Timeout():
		return &transient{Err: errcode.Wrap(errcode.Timeout, err, "%s", what)}
	case isConnError(err):
		return &transient{Err: errcode.Wrap(errcode.NetworkError, err, "%s", what)}
	case errors.As(err, &alert), errors.As(err, &recordErr), strings.Contains(err.Error(), "tls: "):
		// Version or cipher mismatch, plain http on an https port …:
		// retrying cannot help.
		return errcode.Wrap(code, err, "%s: TLS handshake failed", what)
	}
	// Unknown transport failures (a server that hung up mid-request and
	// the like) are worth another try; the attempt budget bounds it.
	if strings.Contains(err.Error(), "invalid header") || strings.Contains(err.Error(), "unsupported protocol") {
		return errcode.Wrap(code, err, "%s", what)
	}
	return &transient{Err: errcode.Wrap(errcode.NetworkError, err, "%s", what)}
}

func isConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, net.ErrClosed)
}

// statusError turns a non-2xx, non-3xx answer into a coded error: 408, 429
// and 500/502/503/504 are retryable (with Retry-After); 400/401/403 answers
// for a URL past its expiry, or whose body says it expired, are URLExpired;
// the rest are failCode with the status and the start of the body.
func statusError(resp *http.Response, failCode errcode.Code, verb string, t Target, now time.Time) error {
	snippet := readSnippet(resp.Body)
	msg := fmt.Sprintf("%s failed with status %d", verb, resp.StatusCode)
	if snippet != "" {
		msg += ": " + snippet
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &transient{
			Err:   errcode.New(errcode.NetworkError, "%s", msg),
			After: retry.ParseAfter(resp.Header.Get("Retry-After"), now),
		}
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		pastExpiry := !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
		saysExpired := strings.Contains(strings.ToLower(snippet), "expired")
		if saysExpired || (pastExpiry && resp.StatusCode != http.StatusBadRequest) {
			return errcode.New(errcode.URLExpired, "%s URL has expired (%s)", verb, msg).
				WithHint("run the command again to get a fresh URL from the remote")
		}
	}
	return errcode.New(failCode, "%s", msg)
}

// readSnippet reads the first errBodyKept bytes of an error body and makes
// them safe to print (no control characters from a hostile server).
func readSnippet(body io.Reader) string {
	if body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(body, errBodyKept))
	if !utf8.Valid(b) {
		b = []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || r == '\u202e' || r == '\u202d' {
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}

// drainClose reads a little of body so the connection can be reused, then
// closes it.
func drainClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}

// adapterHeaders returns the adapter's headers that may be set on a request,
// skipping the ones the transfer itself controls.
func applyAdapterHeaders(h http.Header, headers map[string]string) {
	for k, v := range headers {
		if reservedHeader(k) {
			continue
		}
		h.Set(k, v)
	}
}

func reservedHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
		"Upgrade", "Te", "Trailer", "Proxy-Authorization", "Proxy-Connection",
		"Range", "If-Range", "Accept-Encoding", "Expect":
		return true
	}
	return false
}
