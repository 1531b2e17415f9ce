package remote

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
)

// Each hostile adapter must give a clear error within its timeout, leave no
// process of its group alive and no temp file behind.
func TestHostileAdapters(t *testing.T) {
	okPrepare := `printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT","url":"https://x.invalid/u"},"finalize_token":"t"}' "$ID"`
	cases := []struct {
		name    string
		body    string
		timeout time.Duration
		code    errcode.Code
		msg     string
		ok      bool // the call succeeds (still no leftovers)
	}{
		{name: "garbage stdout", body: `echo 'this is not json'`, code: errcode.ProtocolMismatch, msg: "invalid response"},
		{name: "two values", body: okPrepare + `; echo '{}'`, code: errcode.ProtocolMismatch, msg: "after the JSON value"},
		{name: "1 GiB stdout", body: `head -c 1073741824 /dev/zero`, code: errcode.AdapterExecFailed, msg: "stdout larger than"},
		{name: "1 GiB stdout yes", body: `yes '{"ok":true}' | head -c 1073741824`, code: errcode.AdapterExecFailed, msg: "stdout larger than"},
		{name: "grandchild holds stdout", body: `sleep 300 & ` + okPrepare, ok: true},
		{name: "grandchild holds stdout and hangs", body: `(sleep 300; echo late) & sleep 300`, timeout: 400 * time.Millisecond, code: errcode.Timeout, msg: "timed out after 400ms"},
		{name: "hang", body: `sleep 300`, timeout: 300 * time.Millisecond, code: errcode.Timeout, msg: "timed out"},
		{name: "ignores SIGTERM", body: `trap '' TERM; sleep 300`, timeout: 300 * time.Millisecond, code: errcode.Timeout, msg: "timed out"},
		{name: "wrong request_id", body: `printf '{"ok":true,"type":"push.prepare.result","request_id":"other","upload":{"method":"PUT","url":"https://x.invalid/u"},"finalize_token":"t"}'`, code: errcode.ProtocolMismatch, msg: `request_id "other" does not match`},
		{name: "wrong type", body: `printf '{"ok":true,"type":"push.finalize.result","request_id":"%s","upload":{"method":"PUT","url":"https://x.invalid/u"},"finalize_token":"t"}' "$ID"`, code: errcode.ProtocolMismatch, msg: `type "push.finalize.result" (want "push.prepare.result")`},
		{name: "missing finalize_token", body: `printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT","url":"https://x.invalid/u"}}' "$ID"`, code: errcode.ProtocolMismatch, msg: "finalize_token is missing"},
		{name: "missing url", body: `printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT"},"finalize_token":"t"}' "$ID"`, code: errcode.ProtocolMismatch, msg: "upload.url is missing"},
		{name: "missing method", body: `printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"url":"https://x"},"finalize_token":"t"}' "$ID"`, code: errcode.ProtocolMismatch, msg: "upload.method is missing"},
		{name: "missing ok", body: `printf '{"type":"push.prepare.result","request_id":"%s"}' "$ID"`, code: errcode.ProtocolMismatch, msg: `missing "ok"`},
		{name: "ok true with error body", body: `printf '{"ok":true,"type":"push.prepare.result","request_id":"%s","upload":{"method":"PUT","url":"https://x"},"finalize_token":"t","error":{"code":"conflict","message":"m"}}' "$ID"`, code: errcode.ProtocolMismatch, msg: "ok:true together with"},
		{name: "ok false without error body", body: `printf '{"ok":false,"type":"error","request_id":"%s"}' "$ID"`, code: errcode.ProtocolMismatch, msg: "without a valid error object"},
		{name: "duplicate keys", body: `printf '{"ok":true,"ok":false,"type":"push.prepare.result","request_id":"%s"}' "$ID"`, code: errcode.ProtocolMismatch, msg: `duplicate key "ok"`},
		{name: "nonzero exit with valid error", body: `printf '{"ok":false,"type":"error","request_id":"%s","error":{"code":"forbidden","message":"no access","retryable":false,"action":{"type":"open_url","url":"https://help.invalid"}}}' "$ID"; exit 3`, code: errcode.RemoteForbidden, msg: `adapter "script" push.prepare: forbidden; adapter says: "no access"`},
		{name: "nonzero exit with garbage", body: `echo boom >&2; echo nope; exit 7`, code: errcode.AdapterExecFailed, msg: "exit status 7 (stderr: boom)"},
		{name: "exit 0 success after stderr", body: `echo working >&2; ` + okPrepare, ok: true},
		{name: "huge stderr", body: `head -c 8000000 /dev/zero | tr '\0' x >&2; ` + okPrepare, code: errcode.AdapterExecFailed, msg: "stderr larger than"},
		{name: "killed by signal", body: `kill -9 $$`, code: errcode.AdapterExecFailed, msg: "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			t.Setenv("XDG_RUNTIME_DIR", "")
			p := newProject(t)
			bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", tc.body)
			p.pin("origin", bin)
			r := p.remote("origin", bin)
			if tc.timeout > 0 {
				r.Timeout = config.Duration(tc.timeout)
			}
			var stderr syncBuffer
			s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			limit := 10 * time.Second
			if tc.timeout > 0 {
				limit = tc.timeout + 3*time.Second
			}
			start := time.Now()
			resp, err := s.PushPrepare(context.Background(), &protocol.PushPrepareRequest{})
			took := time.Since(start)
			if took > limit {
				t.Errorf("took %s (limit %s)", took, limit)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if resp.FinalizeToken != "t" {
					t.Fatalf("resp %+v", resp)
				}
			} else {
				wantCode(t, err, tc.code, tc.msg)
			}
			p.groupGone(t)
			s.Close()
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Fatalf("temp files left: %v", ents)
			}
			if len(stderr.String()) > maxStderr+64<<10 {
				t.Fatalf("relayed %d bytes of stderr", len(stderr.String()))
			}
		})
	}
}

func TestCancelKillsGroup(t *testing.T) {
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `sleep 300 & sleep 300`)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	_, err = s.Whoami(ctx)
	wantCode(t, err, errcode.Canceled, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("not context.Canceled: %v", err)
	}
	p.groupGone(t)
}

func TestStderrRedacted(t *testing.T) {
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `echo "token is $MY_TOKEN ok" >&2; printf 'partial %s' "$MY_TOKEN" >&2; exit 4`)
	p.pin("origin", bin)
	t.Setenv("MY_TOKEN", "s3cr3t-value")
	r := p.remote("origin", bin)
	r.Secrets = []string{"MY_TOKEN"}
	for _, noRedact := range []bool{false, true} {
		var stderr syncBuffer
		s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Stderr: &stderr, NoRedact: noRedact})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Whoami(context.Background())
		s.Close()
		wantCode(t, err, errcode.AdapterExecFailed, "exit status 4")
		out := stderr.String()
		if noRedact {
			if !strings.Contains(out, "token is s3cr3t-value ok") {
				t.Fatalf("stderr %q", out)
			}
			continue
		}
		if strings.Contains(out, "s3cr3t") || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("secret leaked: %q / %v", out, err)
		}
		if !strings.Contains(out, "token is [REDACTED] ok") || !strings.Contains(out, "partial [REDACTED]") {
			t.Fatalf("stderr %q", out)
		}
	}
}

// A grandchild that leaves the process group (setsid) and keeps stdout open
// escapes the group kill; the call still ends, bounded by waitDelay, with a
// clear error, and the escaped holder of our pipe is found and killed.
func TestEscapedGrandchildHoldingStdout(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		testenv.NeedFeature(t, "setsid(1) not found on PATH (util-linux)")
	}
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `setsid sleep 30 & echo $! > escaped.pid; sleep 0.3; printf '{"ok":true,"type":"auth.whoami.result","request_id":"%s","identity":{}}' "$ID"`)
	p.pin("origin", bin)
	s, err := p.open(p.remote("origin", bin), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(p.root, "escaped.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	start := time.Now()
	_, err = s.Whoami(context.Background())
	wantCode(t, err, errcode.AdapterExecFailed, "output still held open after exit")
	if d := time.Since(start); d > waitDelay+2*time.Second {
		t.Fatalf("took %s", d)
	}
	b, _ := os.ReadFile(filepath.Join(p.root, "escaped.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone, or a zombie waiting for PID 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("escaped process %d still running: %s", pid, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A context that has already ended when the adapter is about to start
// (Ctrl-C right at that moment, a 1ns timeout: in epack.yaml) used to give
// adapter_exec_failed ("starting: context canceled", exit 1) instead of
// canceled / timeout.
func TestContextEndedBeforeStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		code errcode.Code
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, errcode.Canceled},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, errcode.Timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `echo '{}'`)
			p.pin("origin", bin)
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := Open(ctx, SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock})
			wantCode(t, err, tc.code, "")
		})
	}
}
