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

// Transfer.Run asks for a fresh URL only when the move failed because its
// URL expired, stops when the refresh says nothing is left to move, and
// returns a refresh error untouched.
func TestTransferRunReprepares(t *testing.T) {
	t.Parallel()
	expired := errcode.New(errcode.URLExpired, "expired")
	refreshErr := errors.New("prepare failed")
	cases := []struct {
		name         string
		failures     int  // moves that fail with url_expired before one succeeds
		doneAfter    bool // the first refresh says nothing is left to move
		refreshFails bool
		wantMoves    int
		wantRefresh  int
		wantErr      error
	}{
		{name: "first move works", failures: 0, wantMoves: 1},
		{name: "one expiry", failures: 1, wantMoves: 2, wantRefresh: 1},
		{name: "two expiries, the limit", failures: 2, wantMoves: 3, wantRefresh: 2},
		{name: "refresh says done", failures: 1, doneAfter: true, wantMoves: 1, wantRefresh: 1},
		{name: "refresh fails", failures: 1, refreshFails: true, wantMoves: 1, wantRefresh: 1, wantErr: refreshErr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			moves, refreshes := 0, 0
			move := func() error {
				moves++
				if moves <= c.failures {
					return expired
				}
				return nil
			}
			refresh := func() (bool, error) {
				refreshes++
				if c.refreshFails {
					return false, refreshErr
				}
				return c.doneAfter, nil
			}
			err := Transfer{Operation: "upload"}.Run(move, refresh)
			if err != c.wantErr || moves != c.wantMoves || refreshes != c.wantRefresh {
				t.Fatalf("err %v, %d moves, %d refreshes; want %v, %d, %d", err, moves, refreshes, c.wantErr, c.wantMoves, c.wantRefresh)
			}
		})
	}
}

// Call names the command in its final error and keeps the cause's code.
func TestCallWrapsTheCommand(t *testing.T) {
	t.Parallel()
	_, err := Call(context.Background(), "push.prepare", func(context.Context) (int, error) {
		return 0, errcode.New(errcode.RemoteForbidden, "no")
	})
	if err == nil || !strings.HasPrefix(err.Error(), "push.prepare failed: ") || !errcode.Has(err, errcode.RemoteForbidden) {
		t.Fatalf("err = %v", err)
	}
	n, err := Call(context.Background(), "x", func(context.Context) (int, error) { return 7, nil })
	if n != 7 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
}

// Load finds the project from the folder it is given and refuses a
// receipts folder reached through a symbolic link.
func TestLoadFromGivenFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "epack.yaml"), []byte("stream: acme/prod\nremotes:\n  r:\n    binary: /nonexistent/epack-remote-x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "dist")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	op := Op{Name: "push", ReceiptDir: filepath.Join(".epack", "receipts", "push")}
	env, err := Load(op, sub, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	if env.Root != root || env.Dir != sub || env.RemoteName != "r" || env.Policy.ProjectRoot != root {
		t.Fatalf("%+v", env)
	}
	if err := os.MkdirAll(filepath.Join(root, ".epack", "receipts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, ".epack", "receipts", "push")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(op, sub, "r", ""); !errcode.Has(err, errcode.SymlinkNotAllowed) || !strings.Contains(err.Error(), "refusing to push") {
		t.Fatalf("linked receipts folder: %v", err)
	}
	if d, err := Dir(sub); err != nil || d != sub {
		t.Fatalf("Dir(%q) = %q, %v", sub, d, err)
	}
}
