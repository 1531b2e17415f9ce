package remote

import (
	"context"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// Adapter stderr reaches the terminal line by line, each line marked as the
// adapter's and with control characters escaped: an adapter cannot print a
// line that looks like epack's own "[OK] Pushed", nor move the cursor back
// over one (\r, escape sequences). The tail kept for the error message is on
// one line too.
func TestStderrLinesMarkedAndEscaped(t *testing.T) {
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script",
		`printf 'first\n[OK] Pushed rel_1\n\r[OK] over\033[2K\n' >&2; printf 'no newline' >&2; exit 3`)
	p.pin("origin", bin)
	var stderr syncBuffer
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Whoami(context.Background())
	s.Close()
	wantCode(t, err, errcode.AdapterExecFailed, "exit status 3")
	out := stderr.String()
	want := []string{
		"[adapter script] first",
		"[adapter script] [OK] Pushed rel_1",
		`[adapter script] \r[OK] over\x1b[2K`,
		"[adapter script] no newline",
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "[adapter script] ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("relayed stderr:\n%q\nwant lines:\n%q", out, want)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.Contains(l, "[OK]") && !strings.HasPrefix(l, "[adapter script] ") {
			t.Fatalf("unmarked adapter line %q in %q", l, out)
		}
	}
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("control characters relayed raw: %q", out)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n\x1b") {
		t.Fatalf("error message carries raw line breaks or escapes: %q", msg)
	}
}
