package cli_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testkit"
)

// atSecret has every character URL and JSON escaping change.
const atSecret = `tok/en+v=al"ue<x>&y z-é€😀`

// atSpellings are the forms of atSecret no output may carry.
func atSpellings(t *testing.T) map[string]string {
	t.Helper()
	html, _ := json.Marshal(atSecret)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(atSecret)
	plain := bytes.TrimSpace(buf.Bytes())
	return map[string]string{
		"raw": atSecret, "query": url.QueryEscape(atSecret), "path": url.PathEscape(atSecret),
		"json": string(html[1 : len(html)-1]), "json-plain": string(plain[1 : len(plain)-1]),
	}
}

func atNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for name, f := range atSpellings(t) {
		if strings.Contains(text, f) {
			t.Errorf("%s carries the secret (%s form %q):\n%s", where, name, f, text)
		}
	}
}

// atProject is a project whose remote "h" runs a shell adapter that knows
// the secret MY_TOKEN and answers each command with <answers>/<cmd>.json; it
// logs the commands it gets in calls.log.
type atProject struct {
	root, bin, answers string
}

func newATProject(t *testing.T) *atProject {
	t.Helper()
	p := &atProject{bin: e2e.BinDir(t, binDir), answers: t.TempDir()}
	script := "#!/bin/sh\n" +
		"if [ \"$1\" = \"--capabilities\" ]; then\n" +
		`printf '%s' '{"name":"h","kind":"remote_adapter","deploy_protocol_version":1,"features":{"prepare_finalize":true,"pull":true,"whoami":true},"limits":{"max_pack_bytes":0,"max_runs_per_sync":0}}'` + "\nexit 0\nfi\n" +
		"echo \"$1\" >> '" + p.answers + "/calls.log'\n" +
		"REQ=$(cat)\n" +
		`ID=$(printf '%s' "$REQ" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')` + "\n" +
		`sed "s/@ID@/$ID/" '` + p.answers + `'/"$1".json` + "\n"
	bin := filepath.Join(t.TempDir(), "epack-remote-h")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p.root = e2e.Project(t, p.bin, "stream: acme/prod\nremotes:\n  h:\n    binary: "+bin+"\n    target: {workspace: acme, environment: prod}\n    secrets: [MY_TOKEN]\n")
	e2e.WritePack(t, filepath.Join(p.root, "dist", "s.epack"), "acme/prod", e2e.File{Name: "a.json", Data: []byte(`{"a":1}`)})
	return p
}

func (p *atProject) answer(t *testing.T, cmd string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.answers, cmd+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *atProject) calls() string {
	b, _ := os.ReadFile(filepath.Join(p.answers, "calls.log"))
	return string(b)
}

func (p *atProject) run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	base := []string{"EPACK_INSECURE_ALLOW_UNPINNED=", "EPACK_NO_REDACT=", "CI=", "GITHUB_ACTIONS=", "NO_COLOR=", "MY_TOKEN=" + atSecret}
	return testkit.Run(t, filepath.Join(p.bin, "epack"), p.root, append(base, env...), args...)
}

func okAnswer(typ string, body map[string]any) map[string]any {
	body["ok"], body["type"], body["request_id"] = true, typ, "@ID@"
	return body
}

func errAnswer(code, msg string, action map[string]any) map[string]any {
	e := map[string]any{"code": code, "message": msg, "retryable": false}
	if action != nil {
		e["action"] = action
	}
	return map[string]any{"ok": false, "type": "error", "request_id": "@ID@", "error": e}
}

// An adapter that echoes the secret it was given (raw, URL-escaped,
// JSON-escaped) in its release id, canonical_ref, links and extensions must
// not get it into the terminal, --json, the receipt, the job record or its
// log, or the audit log. Job records and the jobs folder are private.
func TestAdapterEchoedSecretNeverShownOrStored(t *testing.T) {
	p := newATProject(t)
	sp := atSpellings(t)
	mixed := sp["raw"] + " " + sp["query"] + " " + sp["path"] + " " + sp["json"] + " " + sp["json-plain"]
	p.answer(t, "push.prepare", okAnswer("push.prepare.result", map[string]any{"upload": map[string]any{"method": "skip"}, "finalize_token": "ft"}))
	p.answer(t, "push.finalize", okAnswer("push.finalize.result", map[string]any{
		"release": map[string]any{"release_id": "rel_" + sp["path"], "pack_digest": "sha256:" + strings.Repeat("a", 64),
			"created_at": "2026-01-01T00:00:00Z", "canonical_ref": "reg://acme/" + sp["raw"]},
		"links":      map[string]any{"view": "https://ui.example/r?t=" + sp["query"], "share": "https://ui.example/" + sp["path"]},
		"extensions": map[string]any{"note": mixed},
	}))
	readAll := func(glob string) string {
		files, _ := filepath.Glob(filepath.Join(p.root, glob))
		if len(files) == 0 {
			t.Fatalf("no file matches %s", glob)
		}
		var all strings.Builder
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		return all.String()
	}

	out, errOut, code := p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned")
	if code != 0 {
		t.Fatalf("push: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Ref:     reg://acme/[REDACTED]") {
		t.Errorf("canonical_ref not shown redacted:\n%s", out)
	}
	atNoSecret(t, "push output", out+errOut)

	out, errOut, code = p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned", "--json")
	if code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("push --json: exit %d\n%s\n%s", code, out, errOut)
	}
	atNoSecret(t, "push --json", out+errOut)

	out, errOut, code = p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned", "--detach", "--json")
	if code != 0 {
		t.Fatalf("push --detach: exit %d\n%s\n%s", code, out, errOut)
	}
	var d struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.JobID == "" {
		t.Fatalf("detach output %q", out)
	}
	jobFile := filepath.Join(p.root, ".epack", "jobs", d.JobID+".json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(jobFile)
		var job struct {
			Status string `json:"status"`
		}
		json.Unmarshal(b, &job)
		if job.Status != "running" && job.Status != "" {
			if job.Status != "completed" {
				t.Fatalf("job %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job did not finish: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	job := readAll(filepath.Join(".epack", "jobs", d.JobID+".json"))
	if !strings.Contains(job, "[REDACTED]") {
		t.Errorf("job record lacks the release result:\n%s", job)
	}
	atNoSecret(t, "job record", job)
	atNoSecret(t, "job log", readAll(filepath.Join(".epack", "jobs", d.JobID+".log")))
	for path, want := range map[string]os.FileMode{
		filepath.Join(p.root, ".epack", "jobs"): 0o700,
		jobFile:                                 0o600,
		filepath.Join(p.root, ".epack", "jobs", d.JobID+".log"): 0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}

	receipts := readAll(filepath.Join(".epack", "receipts", "push", "h", "*.json"))
	if !strings.Contains(receipts, "reg://acme/[REDACTED]") {
		t.Errorf("receipt lacks the redacted canonical_ref:\n%s", receipts)
	}
	atNoSecret(t, "receipts", receipts)
	audit := readAll(filepath.Join(".epack", "audit.log"))
	if !strings.Contains(audit, "insecure_bypass") {
		t.Errorf("audit log %s", audit)
	}
	atNoSecret(t, "audit log", audit)

	// Errors quoting the secret: message and hint.
	p.answer(t, "push.finalize", errAnswer("forbidden", "denied for "+mixed, map[string]any{"type": "run_command", "command": "login --token " + sp["raw"]}))
	out, errOut, code = p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned")
	if code == 0 || !strings.Contains(errOut, "denied for [REDACTED]") || !strings.Contains(errOut, "login --token [REDACTED]") {
		t.Fatalf("push error: exit %d\n%s\n%s", code, out, errOut)
	}
	atNoSecret(t, "push error", out+errOut)
	out, errOut, _ = p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned", "--json")
	atNoSecret(t, "push --json error", out+errOut)

	// --no-redact shows what the adapter said.
	out, errOut, _ = p.run(t, nil, "push", "h", "dist/s.epack", "--insecure-allow-unpinned", "--no-redact", "--json")
	if !strings.Contains(out, sp["query"]) {
		t.Errorf("--no-redact still redacts:\n%s", out)
	}
}

// An adapter's message with "\n[OK] Pushed …" printed a forged status line;
// a javascript: link was shown as something to open. Adapter text is now one
// marked line, and only https links are shown.
func TestAdapterCannotForgeStatusLines(t *testing.T) {
	p := newATProject(t)
	forged := "nope\n[OK] Pushed to prod in 1.0s\r[OK]  Finalizing release"
	js := map[string]any{"type": "open_url", "url": "javascript:alert(1)"}
	p.answer(t, "pull.prepare", errAnswer("forbidden", forged, js))
	p.answer(t, "auth.whoami", errAnswer("server_error", forged, js))
	p.answer(t, "push.prepare", okAnswer("push.prepare.result", map[string]any{"upload": map[string]any{"method": "skip"}, "finalize_token": "ft"}))
	p.answer(t, "push.finalize", okAnswer("push.finalize.result", map[string]any{
		"release": map[string]any{"release_id": "rel_1\n[OK] Pushed to prod", "pack_digest": "sha256:" + strings.Repeat("a", 64),
			"created_at": "2026-01-01T00:00:00Z", "canonical_ref": "reg://x\r\n[OK] Verified"},
		"links": map[string]any{"view": "javascript:alert(1)", "share": "https://evil.example@bank.example/"},
	}))
	for _, tc := range []struct {
		name   string
		args   []string
		failed bool
	}{
		{"pull error", []string{"pull", "h", "-o", "x.epack", "--insecure-allow-unpinned"}, true},
		{"whoami error", []string{"remote", "whoami", "h", "--insecure-allow-unpinned"}, true},
		{"push release fields", []string{"push", "h", "dist/s.epack", "--insecure-allow-unpinned"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := p.run(t, nil, tc.args...)
			if (code != 0) != tc.failed {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			all := out + errOut
			for _, line := range strings.Split(all, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "[OK] Pushed to prod") || strings.HasPrefix(strings.TrimSpace(line), "[OK] Verified") {
					t.Errorf("forged status line %q in:\n%s", line, all)
				}
			}
			if strings.Contains(all, "\r") || strings.Contains(all, "javascript:") || strings.Contains(all, "evil.example") {
				t.Errorf("carriage return or unsafe link shown:\n%q", all)
			}
			if tc.failed && !strings.Contains(all, `adapter says: "nope\n[OK] Pushed to prod in 1.0s\r[OK]  Finalizing release"`) {
				t.Errorf("adapter message not shown as one marked line:\n%s", all)
			}
			if !tc.failed && (!strings.Contains(out, `rel_1\n[OK] Pushed to prod`) || !strings.Contains(out, "(non-https link omitted)")) {
				t.Errorf("release fields not escaped / links not omitted:\n%s", out)
			}
		})
	}
}

// An --insecure-* run whose audit line cannot be written must stop before
// the adapter runs, naming the audit log; it used to go on unaudited.
func TestInsecureRunStopsWhenAuditLogIsBroken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		setup func(t *testing.T, root string)
	}{
		{"push, dangling symlink", []string{"push", "h", "dist/s.epack", "--insecure-allow-unpinned"}, nil, func(t *testing.T, root string) {
			os.Mkdir(filepath.Join(root, ".epack"), 0o755)
			if err := os.Symlink(filepath.Join(root, "gone"), filepath.Join(root, ".epack", "audit.log")); err != nil {
				t.Fatal(err)
			}
		}},
		{"push via env, FIFO", []string{"push", "h", "dist/s.epack"}, []string{"EPACK_INSECURE_ALLOW_UNPINNED=1"}, func(t *testing.T, root string) {
			os.Mkdir(filepath.Join(root, ".epack"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(root, ".epack", "audit.log"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"pull, folder in its place", []string{"pull", "h", "-o", "x.epack", "--insecure-allow-unpinned"}, nil, func(t *testing.T, root string) {
			if err := os.MkdirAll(filepath.Join(root, ".epack", "audit.log"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"whoami, dangling symlink", []string{"remote", "whoami", "h", "--insecure-allow-unpinned"}, nil, func(t *testing.T, root string) {
			os.Mkdir(filepath.Join(root, ".epack"), 0o755)
			if err := os.Symlink(filepath.Join(root, "gone"), filepath.Join(root, ".epack", "audit.log")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newATProject(t)
			p.answer(t, "push.prepare", okAnswer("push.prepare.result", map[string]any{"upload": map[string]any{"method": "skip"}, "finalize_token": "ft"}))
			tc.setup(t, p.root)
			out, errOut, code := p.run(t, tc.env, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0\n%s\n%s", out, errOut)
			}
			if !strings.Contains(errOut, filepath.Join(p.root, ".epack", "audit.log")) || (tc.args[0] != "remote" && !strings.Contains(errOut, "policy_violation")) {
				t.Errorf("error does not name the audit log:\n%s", errOut)
			}
			if c := p.calls(); c != "" {
				t.Errorf("the adapter was asked %q although the run could not be audited", c)
			}
			if _, err := os.Stat(filepath.Join(p.root, "x.epack")); err == nil {
				t.Error("pulled a pack unaudited")
			}
		})
	}
}
