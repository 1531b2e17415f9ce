package workflow

import (
	"fmt"
	"io"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/audit"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// MaxReprepare bounds how often an expired transfer URL is replaced by a
// fresh prepare call.
const MaxReprepare = 2

// Target converts an adapter's upload or download instruction. An
// unparseable expires_at is ignored (it is informational in the protocol).
func Target(t protocol.TransferTarget) transfer.Target {
	out := transfer.Target{Method: t.Method, URL: t.URL, Headers: t.Headers}
	if t.ExpiresAt != "" {
		if ts, err := time.Parse(time.RFC3339, t.ExpiresAt); err == nil {
			out.ExpiresAt = ts
		}
	}
	return out
}

// Transfer is one upload or download through a URL the adapter handed out.
type Transfer struct {
	Env     *Env
	Session *remote.Session
	// Operation is "upload" or "download" (messages and audit lines).
	Operation string
	// Warn receives a warning when the audit log cannot be written.
	Warn io.Writer
}

// Run calls move; while move fails because its URL expired, it calls
// refresh for a fresh prepare (at most MaxReprepare times) and moves again.
// refresh returns done=true when nothing is left to move (the registry
// already has the bytes). A refresh error is returned as it is. A move
// error is redacted of the remote's secrets (transfer errors can quote the
// URL), recorded in the audit log when the URL policy refused it, and
// wrapped as "<operation> failed".
func (t Transfer) Run(move func() error, refresh func() (done bool, err error)) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = move()
		if err == nil || !errcode.Has(err, errcode.URLExpired) || attempt >= MaxReprepare {
			break
		}
		done, rerr := refresh()
		if rerr != nil {
			return rerr
		}
		if done {
			return nil
		}
	}
	if err == nil {
		return nil
	}
	err = t.Session.RedactError(err)
	AuditBlockedURL(t.Env.Root, t.Env.RemoteName, t.Operation, err, t.Warn)
	return fmt.Errorf("%s failed: %w", t.Operation, err)
}

// AuditBlockedURL records a transfer URL refused by the URL policy in the
// project's audit log (event "ssrf_blocked_url"), so a hostile or broken
// adapter leaves a trace. A failing audit write is reported on warn.
func AuditBlockedURL(projectRoot, remoteName, operation string, err error, warn io.Writer) {
	if !errcode.Has(err, errcode.URLNotAllowed) && !errcode.Has(err, errcode.PathTraversal) {
		return
	}
	audit.Trace(projectRoot, "ssrf_blocked_url", map[string]any{
		"remote": remoteName, "operation": operation, "error": err.Error(),
	}, warn)
}
