// Package flow holds the small pieces the push and pull workflows share:
// how adapter calls are retried and how an adapter's transfer instruction
// becomes a transfer target.
package flow

import (
	"context"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// AdapterRetry is the backoff for adapter errors marked retryable.
var AdapterRetry = transfer.RetryPolicy{Attempts: 4, Base: 250 * time.Millisecond, Max: 5 * time.Second}

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

// FirstNonEmpty returns the first value that is not blank.
func FirstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// AuditBlockedURL records a transfer URL refused by the URL policy in the
// project's audit log (event "ssrf_blocked_url"), so a hostile or broken
// adapter leaves a trace.
func AuditBlockedURL(projectRoot, remoteName, operation string, err error) {
	if !errcode.Has(err, errcode.URLNotAllowed) && !errcode.Has(err, errcode.PathTraversal) {
		return
	}
	remote.Audit(projectRoot, "ssrf_blocked_url", map[string]any{
		"remote": remoteName, "operation": operation, "error": err.Error(),
	})
}

// StepInstall is the step reported while a managed adapter is installed.
const StepInstall = "Installing adapter"

// ReportInstall wraps an adapter installer so the install shows up as a
// workflow step.
func ReportInstall(install func(context.Context, *remote.Resolved) error, onStep func(string, bool)) func(context.Context, *remote.Resolved) error {
	return func(ctx context.Context, r *remote.Resolved) error {
		if onStep != nil {
			onStep(StepInstall, true)
		}
		err := install(ctx, r)
		if err == nil && onStep != nil {
			onStep(StepInstall, false)
		}
		return err
	}
}
