package pull_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/pull"
)

// TestSanitizeStreamCharacterEdges: the bytes on either side of each
// allowed range ('`' 'a' 'z' '{', '@' 'A' 'Z' '[', '/' '0' '9' ':') and the
// two allowed punctuation bytes.
func TestSanitizeStreamCharacterEdges(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"`az{": "-az-", "@AZ[": "-AZ-", "/09:": "-09-", "_-.": "_--", "\x00\xff": "--",
	} {
		if got := pull.SanitizeStream(in); got != want {
			t.Errorf("SanitizeStream(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRefString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref  pull.Ref
		want string
	}{
		{pull.Ref{}, "latest"},
		{pull.Ref{Latest: true}, "latest"},
		{pull.Ref{Digest: "sha256:ab"}, "digest: sha256:ab"},
		{pull.Ref{ReleaseID: "rel_1"}, "release: rel_1"},
		{pull.Ref{Version: "v2"}, "version: v2"},
	} {
		if got := tc.ref.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

// TestPullVersionSpellings: the answer's version (field or label) is
// matched the way the registries match it — "v<digit>…" equals the same
// without the "v", at the edges of the digit range too — and a label that
// names no version ("version:" alone) is no version at all: the pull goes
// on with the note that the answer did not say which version it is.
func TestPullVersionSpellings(t *testing.T) {
	t.Parallel()
	const note = "does not say which version it is"
	cases := []struct {
		name, version, ext string
		note               bool
	}{
		{"field v0.1 for 0.1", "0.1", `,"pull_version":"v0.1"`, false},
		{"field v9 for 9", "9", `,"pull_version":"v9"`, false},
		{"field 1 for v1", "v1", `,"pull_version":"1"`, false},
		{"label v0", "0", `,"pull_version":"","pull_labels":["v0"]`, false},
		{"label v9", "9", `,"pull_version":"","pull_labels":["v9"]`, false},
		{"label v1 for 1", "1", `,"pull_version":"","pull_labels":["v1"]`, false},
		{"label v1.2", "v1.2", `,"pull_version":"","pull_labels":["monthly","v1.2"]`, false},
		{"label version:2.0", "2.0", `,"pull_version":"","pull_labels":["version:2.0"]`, false},
		{"label version=3", "3", `,"pull_version":"","pull_labels":["version=3"]`, false},
		{"label version: alone", "v1", `,"pull_version":"","pull_labels":["version:"]`, true},
		{"label version= alone", "v1", `,"pull_version":"","pull_labels":["version="]`, true},
		{"label v alone", "v1", `,"pull_version":"","pull_labels":["v","vx"]`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			setExt(t, e, tc.ext)
			var stderr strings.Builder
			o := e.opts(filepath.Join(e.root, "out.epack"))
			o.Ref, o.Stderr = pull.Ref{Version: tc.version}, &stderr
			res, err := pull.Pull(context.Background(), o)
			if err != nil {
				t.Fatalf("pull of version %q: %v", tc.version, err)
			}
			if got := strings.Contains(stderr.String(), note); got != tc.note {
				t.Errorf("note on stderr = %v, want %v: %q", got, tc.note, stderr.String())
			}
			if !res.Verified || res.Stream != "acme/evidence" {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestPullAnswerWithoutStream: the protocol lets pull.prepare leave the
// stream out. The pack is then accepted on its manifest (stream recorded
// from the manifest) and, with no -o, lands in ./pack.epack (the sanitised
// empty stream).
func TestPullAnswerWithoutStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	setExt(t, e, `,"pull_no_stream":true`)
	res, err := pull.Pull(context.Background(), e.opts(""))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(e.root, "pack.epack"); res.OutputPath != want {
		t.Errorf("output %s, want %s", res.OutputPath, want)
	}
	if res.Stream != "acme/evidence" {
		t.Errorf("stream %q, want the manifest's", res.Stream)
	}
}

// TestPullRefusesBadOptions: options that cannot make a pull are refused
// before the adapter is asked anything, with invalid_input.
func TestPullRefusesBadOptions(t *testing.T) {
	t.Parallel()
	good := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		name string
		edit func(o *pull.Options)
		want string
	}{
		{"no remote", func(o *pull.Options) { o.Remote = " \t" }, "remote is required"},
		{"latest and a digest", func(o *pull.Options) { o.Ref = pull.Ref{Latest: true, Digest: good} }, "choose one"},
		{"latest and a version", func(o *pull.Options) { o.Ref = pull.Ref{Latest: true, Version: "v1"} }, "choose one"},
		{"release and version", func(o *pull.Options) { o.Ref = pull.Ref{ReleaseID: "rel_0001", Version: "v1"} }, "choose one"},
		{"digest and release", func(o *pull.Options) { o.Ref = pull.Ref{Digest: good, ReleaseID: "rel_0001"} }, "choose one"},
		{"malformed digest", func(o *pull.Options) { o.Ref = pull.Ref{Digest: "sha256:xyz"} }, `digest "sha256:xyz" is not of the form`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			before := len(e2e.ReadLog(t, e.state))
			o := e.opts(filepath.Join(e.root, "out.epack"))
			tc.edit(&o)
			_, err := pull.Pull(context.Background(), o)
			if !errcode.Has(err, errcode.InvalidInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull: %v, want %s with %q", err, errcode.InvalidInput, tc.want)
			}
			if n := len(e2e.ReadLog(t, e.state)); n != before {
				t.Errorf("the adapter was asked %d thing(s)", n-before)
			}
		})
	}
}

// TestPullLatestExplicitly: Ref{Latest: true} alone is a valid ref and is
// sent as is.
func TestPullLatestExplicitly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	o := e.opts(filepath.Join(e.root, "out.epack"))
	o.Ref = pull.Ref{Latest: true}
	if _, err := pull.Pull(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	prep := requests(t, e, "pull.prepare")
	if len(prep) != 1 || fmt.Sprint(prep[0]["ref"]) != "map[latest:true]" {
		t.Errorf("prepare requests %v", prep)
	}
}

// TestPullOutputRefusals: an output that is a folder or a FIFO, an existing
// file without force, and a path below a regular file are refused with
// their codes before the adapter is asked for the pack.
func TestPullOutputRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, root string) string
		code  errcode.Code
		want  string
	}{
		{"folder", func(t *testing.T, root string) string {
			p := filepath.Join(root, "dir.epack")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, errcode.InvalidInput, "is a folder"},
		{"fifo", func(t *testing.T, root string) string {
			p := filepath.Join(root, "fifo.epack")
			if err := mkfifo(p); err != nil {
				t.Fatal(err)
			}
			return p
		}, errcode.InvalidInput, "not a regular file"},
		{"existing file", func(t *testing.T, root string) string {
			p := filepath.Join(root, "old.epack")
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, errcode.OutputExists, "already exists"},
		{"below a regular file", func(t *testing.T, root string) string {
			p := filepath.Join(root, "plain")
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(p, "x.epack")
		}, errcode.IOError, "checking output"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			out := tc.setup(t, e.root)
			_, err := pull.Pull(context.Background(), e.opts(out))
			if !errcode.Has(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull to %s: %v (code %q), want %s with %q", out, err, errcode.Of(err), tc.code, tc.want)
			}
			if n := len(requests(t, e, "pull.prepare")); n != 0 {
				t.Errorf("pull.prepare called %d times", n)
			}
		})
	}
}

// TestPullContext: a nil context is taken as Background, and a canceled one
// stops the pull with nothing written.
func TestPullContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	var none context.Context
	if _, err := pull.Pull(none, e.opts(filepath.Join(e.root, "nil-ctx.epack"))); err != nil {
		t.Fatalf("nil context: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(e.root, "canceled.epack")
	if _, err := pull.Pull(ctx, e.opts(out)); err == nil {
		t.Fatal("a canceled pull succeeded")
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("output of a canceled pull: %v", err)
	}
}

// TestPullWithoutVerification: Verify=false skips the integrity check (a
// pack whose artifact does not match its manifest digest, but whose file
// digest is the announced one, is saved unverified), reports no verify
// step and records verified=false; the manifest is still read, so bytes
// that are no pack are refused with a message that says so.
func TestPullWithoutVerification(t *testing.T) {
	t.Parallel()
	no := false
	t.Run("tampered artifact saved unverified", func(t *testing.T) {
		e := newEnv(t, "")
		bad := filepath.Join(e.registry, "bad.epack")
		raw, err := os.ReadFile(e.packPath)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(raw), "bee")
		raw[i] = 'B'
		if err := os.WriteFile(bad, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		setExt(t, e, fmt.Sprintf(`,"download_url":"file://%s","pull_digest":"%s","pull_size":%d`, bad, e2e.FileSHA256(t, bad), len(raw)))
		var steps []string
		o := e.opts(filepath.Join(e.root, "out.epack"))
		o.Verify = &no
		o.OnStep = func(s string, started bool) { steps = append(steps, fmt.Sprint(s, started)) }
		res, err := pull.Pull(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Verified {
			t.Error("result says verified")
		}
		for _, s := range steps {
			if strings.HasPrefix(s, pull.StepVerify) {
				t.Errorf("verify step reported without verification: %v", steps)
			}
		}
		var rc map[string]any
		b, err := os.ReadFile(res.ReceiptPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rc); err != nil {
			t.Fatal(err)
		}
		if rc["verified"] != false {
			t.Errorf("receipt verified = %v", rc["verified"])
		}
		// The same bytes with verification are refused.
		o = e.opts(filepath.Join(e.root, "checked.epack"))
		if _, err := pull.Pull(context.Background(), o); !errcode.Has(err, errcode.DigestMismatch) || !strings.HasPrefix(err.Error(), "pack verification failed: ") {
			t.Fatalf("verified pull of the tampered pack: %v", err)
		}
	})
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprintf("not a pack, verify=%v", verify), func(t *testing.T) {
			e := newEnv(t, "")
			junk := filepath.Join(e.registry, "junk.epack")
			if err := os.WriteFile(junk, []byte("this is not a zip archive at all"), 0o644); err != nil {
				t.Fatal(err)
			}
			setExt(t, e, fmt.Sprintf(`,"download_url":"file://%s","pull_digest":"%s","pull_size":%d`, junk, e2e.FileSHA256(t, junk), 32))
			out := filepath.Join(e.root, "out.epack")
			o := e.opts(out)
			v := verify
			o.Verify = &v
			_, err := pull.Pull(context.Background(), o)
			want := map[bool]string{false: "reading the pack's manifest: ", true: "pack verification failed: "}[verify]
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("pull of junk: %v, want it to start with %q", err, want)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("output: %v", err)
			}
		})
	}
}

// TestPullReceiptFailure: when the receipt cannot be written (its folder
// became a file after the pack was saved), the pull reports an io_error
// that says the pack was saved, and still returns the result.
func TestPullReceiptFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	out := filepath.Join(e.root, "out.epack")
	o := e.opts(out)
	dir := filepath.Join(e.root, ".epack", "receipts", "pull", "t")
	o.OnStep = func(s string, started bool) {
		if s == pull.StepFinalize && started {
			if err := os.RemoveAll(dir); err != nil {
				t.Error(err)
			}
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(dir, []byte("in the way"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := pull.Pull(context.Background(), o)
	if !errcode.Has(err, errcode.IOError) || !strings.Contains(err.Error(), "was saved to "+out) {
		t.Fatalf("pull: %v, want %s saying the pack was saved", err, errcode.IOError)
	}
	if res == nil || res.OutputPath != out || res.Digest != e2e.FileSHA256(t, e.packPath) {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the pack is gone: %v", err)
	}
}

// TestPullNeedsThePullFeature: an adapter without features.pull is refused
// with unsupported_feature, before pull.prepare.
func TestPullNeedsThePullFeature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	setExt(t, e, `,"no_pull":true`)
	_, err := pull.Pull(context.Background(), e.opts(filepath.Join(e.root, "out.epack")))
	if !errcode.Has(err, errcode.UnsupportedFeature) {
		t.Fatalf("pull: %v, want %s", err, errcode.UnsupportedFeature)
	}
	if n := len(requests(t, e, "pull.prepare")); n != 0 {
		t.Errorf("pull.prepare called %d times", n)
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
