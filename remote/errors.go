package remote

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// AdapterError is the host's view of an adapter's well-formed error answer
// ({"ok":false,"type":"error","error":{…}}): the wire error (Body, one
// protocol.Error) plus which adapter said it in answer to which command.
// Session methods return it inside an *errcode.Error whose Code comes from
// Body.Code (CodeFor) and whose Hint is the action; errors.As finds both the
// AdapterError and its *protocol.Error.
type AdapterError struct {
	Adapter string
	Command string
	Body    protocol.Error
}

// Unwrap returns the wire error, so errors.As reaches *protocol.Error.
func (e *AdapterError) Unwrap() error { return &e.Body }

// Error names the adapter and command, then gives the adapter's code and
// message as the adapter's words: quoted on one line (newlines, carriage
// returns and other control characters escaped), so an adapter cannot start
// a line of its own in epack's output and pass it off as epack's.
func (e *AdapterError) Error() string {
	msg := fmt.Sprintf("adapter %q %s: %s", e.Adapter, e.Command, codeText(e.Body.Code))
	if e.Body.Message != "" {
		msg += "; adapter says: " + quoteAdapterText(e.Body.Message)
	}
	return msg
}

// Retryable reports the adapter's retry hint.
func (e *AdapterError) Retryable() bool { return e.Body.Retryable }

// AuthRequired reports whether the adapter asks the user to authenticate.
func (e *AdapterError) AuthRequired() bool { return e.Body.Code == protocol.CodeAuthRequired }

// Hint renders the adapter's action as a user hint ("" without one). The
// command is quoted on one line and marked as the adapter's suggestion; a
// link is offered only when it is a plain https URL (HTTPSLink), so a
// javascript:, file: or http: link is never presented as something to open.
func (e *AdapterError) Hint() string {
	a := e.Body.Action
	if a == nil {
		return ""
	}
	switch {
	case a.Command != "":
		return "the adapter suggests running " + quoteAdapterText(a.Command)
	case a.URL != "":
		if link, ok := HTTPSLink(a.URL); ok {
			return "the adapter suggests opening " + link
		}
	}
	return ""
}

// QuoteAdapterText renders text an adapter supplied as one quoted line:
// quotes, backslashes, newlines, carriage returns, other control characters
// and invisible format characters (bidi overrides) are escaped Go-style.
func quoteAdapterText(s string) string { return strconv.Quote(s) }

// codeText shows a protocol error code as is when it looks like one
// (lower-case letters, digits, '_', '.', '-'), quoted otherwise.
func codeText(code string) string {
	if code == "" || len(code) > 64 {
		return quoteAdapterText(code)
	}
	for _, c := range code {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return quoteAdapterText(code)
		}
	}
	return code
}

// HTTPSLink reports whether s, a link an adapter supplied, may be shown as
// a link: an absolute https URL with a host, without user info (which can
// disguise the real host, as in https://bank.example@evil.example) and
// without spaces or control characters. It returns s trimmed.
func HTTPSLink(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 4096 {
		return "", false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}

// CodeFor maps a protocol error code to an epack error code.
func codeFor(adapterCode string) errcode.Code {
	switch adapterCode {
	case protocol.CodeAuthRequired:
		return errcode.AuthRequired
	case protocol.CodeForbidden:
		return errcode.RemoteForbidden
	case protocol.CodeConflict:
		return errcode.RemoteConflict
	case protocol.CodeNetworkError:
		return errcode.NetworkError
	case "timeout":
		return errcode.Timeout
	case protocol.CodeUnsupportedProtocol:
		return errcode.ProtocolMismatch
	}
	return errcode.AdapterError
}

// wrapAdapterError turns an AdapterError into the coded error Session returns.
func wrapAdapterError(ae *AdapterError) error {
	return &errcode.Error{Code: codeFor(ae.Body.Code), Err: ae, Hint: ae.Hint()}
}
