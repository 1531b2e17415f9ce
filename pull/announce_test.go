package pull_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pull"
)

// TestPullFinalizeFailureKeepsThePack: pull.finalize only tells the
// registry the fetch happened, so its failure is a warning (COMPAT §7 step
// 9): the verified pack stays in place, the result carries the warning, the
// receipt is written, the step gets no completion call and the status is
// success. Through the CLI the JSON result names the warning and exit is 0.
func TestPullFinalizeFailureKeepsThePack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	setExt(t, e, `,"pull_finalize_error":"forbidden"`)
	out := filepath.Join(e.root, "out.epack")
	var stderr strings.Builder
	var done []string
	o := e.opts(out)
	o.Stderr = &stderr
	o.OnStep = func(s string, started bool) {
		if !started {
			done = append(done, s)
		}
	}
	res, err := pull.Pull(context.Background(), o)
	if err != nil || exitstatus.Of(err) != exitstatus.OK {
		t.Fatalf("pull with a failing finalize: %v (exit %d), want success with a warning", err, exitstatus.Of(err))
	}
	if res.FinalizeWarning == nil || !strings.Contains(res.FinalizeWarning.Error(), "pull.finalize refused by test adapter") {
		t.Errorf("FinalizeWarning %v does not carry the adapter's message", res.FinalizeWarning)
	}
	if !strings.Contains(stderr.String(), "Warning: pull.finalize failed: ") || !strings.Contains(stderr.String(), "refused by test adapter") {
		t.Errorf("stderr %q lacks the warning", stderr.String())
	}
	if strings.Contains(stderr.String(), "Note:") {
		t.Errorf("stderr has a note for an answer that said everything: %q", stderr.String())
	}
	want, _ := os.ReadFile(e.packPath)
	got, rerr := os.ReadFile(out)
	if rerr != nil || string(got) != string(want) {
		t.Fatalf("the pack did not stay in place: %v", rerr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v (%v), want 0644", fi.Mode(), err)
	}
	if !res.Verified || res.Digest == "" || res.OutputPath != out {
		t.Errorf("result %+v", res)
	}
	if len(done) == 0 || done[len(done)-1] != pull.StepVerify {
		t.Errorf("completed steps %v: finalize must not complete, verify must", done)
	}
	if fin := requests(t, e, "pull.finalize"); len(fin) != 1 || fin[0]["digest"] != res.Digest || fin[0]["finalize_token"] != "ptok_1" {
		t.Errorf("finalize requests %v", fin)
	}
	rc := receipts(t, e)
	if len(rc) != 1 || rc[0] != res.ReceiptPath {
		t.Fatalf("receipts %v, result receipt %q", rc, res.ReceiptPath)
	}
	var receipt pull.Receipt
	raw, err := os.ReadFile(res.ReceiptPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &receipt); err != nil {
		t.Fatal(err)
	}
	if receipt.Pack.Digest != res.Digest || receipt.Pack.OutputPath != out || !receipt.Verified {
		t.Errorf("receipt %+v", receipt)
	}

	// The CLI: exit 0, the warning in the JSON result.
	out2 := filepath.Join(e.root, "cli.epack")
	cmd := exec.Command(filepath.Join(binDir, "epack"), "pull", "t", "-o", out2, "--insecure-allow-unpinned", "--json")
	cmd.Dir = e.root
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("epack pull --json: %v\nstdout %s\nstderr %s", err, so.String(), se.String())
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(so.String()), &j); err != nil {
		t.Fatalf("JSON result %q: %v", so.String(), err)
	}
	if w, _ := j["finalize_warning"].(string); !strings.Contains(w, "refused by test adapter") || j["pulled"] != true {
		t.Errorf("JSON result %v lacks the finalize warning", j)
	}
	if _, err := os.Stat(out2); err != nil {
		t.Errorf("the CLI's pack is missing: %v", err)
	}
}

// TestPullChecksWhatTheAdapterAnnounces: pull.prepare's answer is checked
// before any byte is fetched — a digest not of the sha256 form, a size that
// is not positive, and (for a pull by digest) another digest than the one
// asked for are refused with their codes, no download (the URL points at a
// file that does not exist, which would be a download error), nothing
// written, no finalize.
func TestPullChecksWhatTheAdapterAnnounces(t *testing.T) {
	t.Parallel()
	asked := "sha256:" + strings.Repeat("0f", 32)
	cases := []struct {
		name string
		ext  string
		ref  pull.Ref
		code errcode.Code
		want string
	}{
		{"digest of another form", `,"pull_digest":"md5:d41d8cd98f00b204e9800998ecf8427e"`, pull.Ref{}, errcode.ProtocolMismatch, `pack.digest "md5:`},
		{"digest in upper case", `,"pull_digest":"sha256:` + strings.Repeat("AB", 32) + `"`, pull.Ref{}, errcode.ProtocolMismatch, "pack.digest"},
		{"size zero", `,"pull_size_announced":0`, pull.Ref{}, errcode.ProtocolMismatch, "size_bytes must be positive"},
		{"size negative", `,"pull_size_announced":-1`, pull.Ref{}, errcode.ProtocolMismatch, "size_bytes must be positive"},
		{"another digest than asked", "", pull.Ref{Digest: asked}, errcode.DigestMismatch, "asked for " + asked + " but the remote offers sha256:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			setExt(t, e, tc.ext+`,"download_url":"file://{root}/does-not-exist.epack"`)
			out := filepath.Join(e.root, "out.epack")
			o := e.opts(out)
			o.Ref = tc.ref
			_, err := pull.Pull(context.Background(), o)
			if !errcode.Has(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull: %v (code %q), want %s with %q", err, errcode.Of(err), tc.code, tc.want)
			}
			if n := len(requests(t, e, "pull.prepare")); n != 1 {
				t.Errorf("pull.prepare called %d times", n)
			}
			if n := len(requests(t, e, "pull.finalize")); n != 0 {
				t.Errorf("pull.finalize called %d times", n)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("output: %v", err)
			}
			if l := leftovers(t, e.root); len(l) != 0 {
				t.Errorf("temp files: %v", l)
			}
		})
	}
}

// TestPullByDigest: a pull by digest sends exactly that ref (no "latest"
// added) and accepts the answer naming it; a pull with no ref sends latest.
func TestPullByDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	d := e2e.FileSHA256(t, e.packPath)
	o := e.opts(filepath.Join(e.root, "by-digest.epack"))
	o.Ref = pull.Ref{Digest: d}
	res, err := pull.Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d {
		t.Errorf("digest %s, want %s", res.Digest, d)
	}
	if _, err := pull.Pull(context.Background(), e.opts(filepath.Join(e.root, "latest.epack"))); err != nil {
		t.Fatal(err)
	}
	prep := requests(t, e, "pull.prepare")
	if len(prep) != 2 {
		t.Fatalf("prepare requests %v", prep)
	}
	refs := []string{fmt.Sprint(prep[0]["ref"]), fmt.Sprint(prep[1]["ref"])}
	if refs[0] != fmt.Sprintf("map[digest:%s]", d) || refs[1] != "map[latest:true]" {
		t.Errorf("refs sent %v", refs)
	}
}
