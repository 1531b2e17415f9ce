package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/protocol"
)

// hostileSecret has every character that changes under URL or JSON
// escaping: '/', '+', '=', '"', '<', '&', a space and non-ASCII.
const hostileSecret = `tok/en+v=al"ue<x>&y z-é€😀`

// spellings lists, independently of the code under test, the forms of s a
// redaction must catch: raw, URL query and path escaped, JSON-escaped with
// and without Go's HTML escapes.
func spellings(t testing.TB, s string) map[string]string {
	t.Helper()
	html, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	plain := bytes.TrimSpace(buf.Bytes())
	return map[string]string{
		"raw":        s,
		"query":      url.QueryEscape(s),
		"path":       url.PathEscape(s),
		"json":       string(html[1 : len(html)-1]),
		"json-plain": string(plain[1 : len(plain)-1]),
	}
}

// assertNoSecret fails when text carries any spelling of secret.
func assertNoSecret(t testing.TB, where, text, secret string) {
	t.Helper()
	for name, f := range spellings(t, secret) {
		if strings.Contains(text, f) {
			t.Errorf("%s carries the secret (%s form %q):\n%s", where, name, f, text)
		}
	}
}

func TestRedactorCoversEverySpelling(t *testing.T) {
	r := newRedactor([]string{hostileSecret, "abc"}, false)
	for name, f := range spellings(t, hostileSecret) {
		t.Run(name, func(t *testing.T) {
			got := r.String("before " + f + " after")
			if got != "before "+redactedMark+" after" {
				t.Fatalf("got %q", got)
			}
		})
	}
	if got := r.String("abc is too short to redact"); got != "abc is too short to redact" {
		t.Fatalf("short secret redacted: %q", got)
	}
	if off := newRedactor([]string{hostileSecret}, true); off.String(hostileSecret) != hostileSecret {
		t.Fatal("NoRedact still redacts")
	}
	// Other encoders' spellings: lower-case percent escapes, %20 for a space,
	// ASCII-only JSON (\u00e9), Go's %q.
	for _, f := range []string{strings.ToLower(url.QueryEscape(hostileSecret)), strings.ReplaceAll(url.QueryEscape(hostileSecret), "+", "%20"),
		`tok/en+v=al\"ue\u003cx\u003e\u0026y z-\u00e9\u20ac\ud83d\ude00`} {
		if got := r.String("[" + f + "]"); got != "["+redactedMark+"]" {
			t.Errorf("%q → %q", f, got)
		}
	}
}

// responder writes a script adapter that answers command <c> with the
// contents of <dir>/<c>.json (the request id substituted for @ID@).
func responder(t *testing.T, answers map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for cmd, a := range answers {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cmd+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return scriptAdapter(t, t.TempDir(), "epack-remote-script", `sed "s/@ID@/$ID/" '`+dir+`'/"$1".json`)
}

// An adapter that knows a secret (it gets it in its environment) and echoes
// it in its error message, hint, release fields, links, extensions, run
// reasons and whoami identity must not get it shown or stored: every text
// field of a response is redacted as it is decoded, except the transfer
// URL, which is used, not shown.
func TestAdapterEchoedSecretsRedacted(t *testing.T) {
	sp := spellings(t, hostileSecret)
	mixed := "raw " + sp["raw"] + " query " + sp["query"] + " path " + sp["path"] + " json " + sp["json"] + " plain " + sp["json-plain"]
	ok := func(typ string, body map[string]any) map[string]any {
		body["ok"], body["type"], body["request_id"] = true, typ, "@ID@"
		return body
	}
	fail := func(body map[string]any) map[string]any {
		return map[string]any{"ok": false, "type": "error", "request_id": "@ID@", "error": body}
	}
	downloadURL := "https://store.example/blob?X-Amz-Credential=" + sp["query"]
	answers := map[string]any{
		"push.prepare": fail(map[string]any{"code": "forbidden", "message": "denied: " + mixed,
			"action": map[string]any{"type": "run_command", "command": "login --token " + sp["raw"]}}),
		"pull.finalize": fail(map[string]any{"code": "auth_required", "message": mixed,
			"action": map[string]any{"type": "open_url", "url": "https://help.example/?t=" + sp["query"]}}),
		"push.finalize": ok("push.finalize.result", map[string]any{
			"release": map[string]any{"release_id": "rel_" + sp["path"], "pack_digest": "sha256:" + strings.Repeat("a", 64),
				"created_at": "2026-01-01T00:00:00Z", "canonical_ref": "reg://x/" + sp["raw"]},
			"links":      map[string]any{"view": "https://ui.example/r?t=" + sp["query"], sp["raw"]: "https://ui.example/"},
			"extensions": map[string]any{"note": []any{mixed, map[string]any{"deep": sp["json"]}}},
		}),
		"pull.prepare": ok("pull.prepare.result", map[string]any{
			"download":       map[string]any{"method": "GET", "url": downloadURL},
			"pack":           map[string]any{"digest": "sha256:" + strings.Repeat("b", 64), "size_bytes": 3, "stream": "acme/" + sp["raw"], "version": sp["query"], "labels": []any{mixed}},
			"finalize_token": "ft",
		}),
		"runs.sync": ok("runs.sync.result", map[string]any{"accepted": 0, "rejected": 1,
			"items":          []any{map[string]any{"run_id": "r1", "status": "rejected", "reason": mixed}},
			"failed_outputs": []any{map[string]any{"run_id": "r1", "path": sp["path"], "reason": mixed}}}),
		"auth.whoami": ok("auth.whoami.result", map[string]any{"identity": map[string]any{"authenticated": true, "subject": mixed, "issuer": sp["query"]}}),
	}
	for _, noRedact := range []bool{false, true} {
		p := newProject(t)
		bin := responder(t, answers)
		p.pin("origin", bin)
		t.Setenv("MY_TOKEN", hostileSecret)
		r := p.remote("origin", bin)
		r.Secrets = []string{"MY_TOKEN"}
		s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock, Stderr: &syncBuffer{}, NoRedact: noRedact})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var shown []string
		_, err = s.PushPrepare(ctx, &protocol.PushPrepareRequest{})
		shown = append(shown, errText(t, err))
		_, err = s.PullFinalize(ctx, &protocol.PullFinalizeRequest{})
		shown = append(shown, errText(t, err))
		fin, err := s.PushFinalize(ctx, &protocol.PushFinalizeRequest{})
		shown = append(shown, jsonText(t, fin, err))
		pp, err := s.PullPrepare(ctx, &protocol.PullPrepareRequest{})
		if err != nil {
			t.Fatal(err)
		}
		shown = append(shown, jsonText(t, pp.Pack, nil))
		rs, err := s.RunsSync(ctx, &protocol.RunsSyncRequest{})
		shown = append(shown, jsonText(t, rs, err))
		who, err := s.Whoami(ctx)
		shown = append(shown, jsonText(t, who, err))
		s.Close()
		all := strings.Join(shown, "\n")
		if noRedact {
			if strings.Contains(all, redactedMark) || !strings.Contains(all, sp["query"]) {
				t.Fatalf("--no-redact hid the secret:\n%s", all)
			}
			continue
		}
		assertNoSecret(t, "adapter answers", all, hostileSecret)
		if n := strings.Count(all, redactedMark); n < 20 {
			t.Errorf("only %d redactions:\n%s", n, all)
		}
		if pp.Download.URL != downloadURL {
			t.Errorf("the transfer URL was changed: %q", pp.Download.URL)
		}
		if pp.FinalizeToken != "ft" || pp.Pack.SizeBytes != 3 {
			t.Errorf("protocol fields changed: %+v", pp)
		}
	}
}

// errText is everything an error shows: message and hint.
func errText(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	return err.Error() + "\nhint: " + errcode.HintOf(err)
}

func jsonText(t *testing.T, v any, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzRedact: whatever the text around it, no spelling of a secret survives
// redaction (secrets that contain the mark's own brackets are left out: a
// replacement could then recreate them from its neighbours).
func FuzzRedact(f *testing.F) {
	f.Add(hostileSecret, "before ", " after")
	f.Add("abcd", "abc", "dabcd")
	f.Add("a b+c", "%", "%2B")
	f.Fuzz(func(t *testing.T, secret, pre, post string) {
		if len(secret) < 4 || strings.ContainsAny(secret, "[]") {
			return
		}
		r := newRedactor([]string{secret}, false)
		for name, form := range spellings(t, secret) {
			got := r.String(pre + form + post)
			if strings.Contains(got, secret) && !strings.Contains(pre+post, secret) {
				t.Fatalf("%s form: %q left %q in %q", name, form, secret, got)
			}
			if !strings.Contains(got, redactedMark) {
				t.Fatalf("%s form %q not redacted: %q", name, form, got)
			}
		}
	})
}
