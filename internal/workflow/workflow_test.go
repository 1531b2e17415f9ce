package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

func TestTarget(t *testing.T) {
	got := Target(protocol.TransferTarget{Method: "PUT", URL: "https://x/y", Headers: map[string]string{"A": "b"}, ExpiresAt: "2026-01-02T03:04:05Z"})
	if got.Method != "PUT" || got.URL != "https://x/y" || got.Headers["A"] != "b" || !got.ExpiresAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("%+v", got)
	}
	if got := Target(protocol.TransferTarget{ExpiresAt: "soon"}); !got.ExpiresAt.IsZero() {
		t.Fatalf("unparseable expiry kept: %v", got.ExpiresAt)
	}
}

func TestReportInstall(t *testing.T) {
	var steps []string
	on := func(s string, started bool) { steps = append(steps, s+map[bool]string{true: "+", false: "-"}[started]) }
	ok := ReportInstall(func(context.Context, *remote.Resolved) error { return nil }, on)
	if err := ok(context.Background(), nil); err != nil || strings.Join(steps, ",") != "Installing adapter+,Installing adapter-" {
		t.Fatalf("%v %v", err, steps)
	}
	steps = nil
	bad := ReportInstall(func(context.Context, *remote.Resolved) error { return errors.New("no") }, on)
	if err := bad(context.Background(), nil); err == nil || strings.Join(steps, ",") != "Installing adapter+" {
		t.Fatalf("a failed install must not be reported done: %v %v", err, steps)
	}
}

func TestAuditBlockedURL(t *testing.T) {
	root := t.TempDir()
	AuditBlockedURL(root, "r", "upload", errors.New("other"), nil)
	if _, err := os.Stat(filepath.Join(root, ".epack", "audit.log")); err == nil {
		t.Fatal("unrelated errors must not be audited")
	}
	AuditBlockedURL(root, "r", "upload", errcode.New(errcode.URLNotAllowed, "http to example.com"), nil)
	b, err := os.ReadFile(filepath.Join(root, ".epack", "audit.log"))
	if err != nil || !strings.Contains(string(b), "ssrf_blocked_url") || !strings.Contains(string(b), "example.com") {
		t.Fatalf("audit log: %s %v", b, err)
	}
	if FirstNonEmpty(" ", "", "a", "b") != "a" || FirstNonEmpty() != "" {
		t.Fatal("FirstNonEmpty")
	}
}
