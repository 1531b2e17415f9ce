package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// readRunFile takes a regular result file of up to MaxRunResultBytes whole
// and refuses anything else with the reason the push reports for it: a
// symbolic link is named as one (not as the open error O_NOFOLLOW gives), a
// file one byte over the limit is too large, a FIFO is not a regular file.
func TestReadRunFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Valid JSON padded with spaces: a shortened read is still a result
	// file, only its bytes (and digest) differ.
	pad := func(n int) []byte {
		b := append([]byte(`{"run_id":"r1"}`), bytes.Repeat([]byte(" "), n-15)...)
		if len(b) != n {
			t.Fatalf("pad: %d bytes, want %d", len(b), n)
		}
		return b
	}
	atLimit := pad(MaxRunResultBytes)
	small := []byte(`{"ok":true}`)
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	target := write("target.json", small)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.json")
	if err := os.Symlink(filepath.Join(dir, "missing.json"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		want    []byte
		wantErr error
		errText string // for errors that are not one of ours
	}{
		{name: "small file", path: write("small.json", small), want: small},
		{name: "exactly the limit", path: write("limit.json", atLimit), want: atLimit},
		{name: "one byte over the limit", path: write("over.json", pad(MaxRunResultBytes+1)), wantErr: errRunTooLarge},
		{name: "symbolic link", path: link, wantErr: errSymlinkRun},
		{name: "dangling symbolic link", path: dangling, wantErr: errSymlinkRun},
		{name: "fifo", path: fifo, wantErr: errNotRegularRun},
		{name: "missing file", path: filepath.Join(dir, "missing.json"), errText: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readRunFile(tc.path)
			switch {
			case tc.wantErr != nil:
				if err != tc.wantErr {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) || err == errSymlinkRun {
					t.Fatalf("err = %v, want one saying %q", err, tc.errText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.want) {
					t.Fatalf("read %d bytes, want the file's %d", len(got), len(tc.want))
				}
			}
		})
	}
}

// discoverRuns sends a result file of exactly MaxRunResultBytes with the
// digest of all its bytes, and reports the refused ones with their reason:
// the folder name as run id for a file that could not be read, no id (only
// the path) for one whose id is unusable.
func TestDiscoverRunsLimitsAndReasons(t *testing.T) {
	t.Parallel()
	sidecar := t.TempDir()
	put := func(rel string, data []byte) string {
		p := filepath.Join(sidecar, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atLimit := append([]byte(`{}`), bytes.Repeat([]byte(" "), MaxRunResultBytes-2)...)
	limitPath := put("runs/at-limit/result.json", atLimit)
	overPath := put("runs/over/result.json", bytes.Repeat([]byte(" "), MaxRunResultBytes+1))
	badIDPath := put("runs/bad id/result.json", []byte(`{}`))
	linkPath := filepath.Join(sidecar, "runs", "ln", "result.json")
	if err := os.MkdirAll(filepath.Dir(linkPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(limitPath, linkPath); err != nil {
		t.Fatal(err)
	}

	runs, skipped := discoverRuns(sidecar, sidecar, []string{"runs/*/result.json"}, nil)
	sum := sha256.Sum256(atLimit)
	if len(runs) != 1 || runs[0].RunID != "at-limit" || runs[0].ResultPath != limitPath || runs[0].ResultDigest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("runs = %+v, want only at-limit with the digest of all %d bytes", runs, len(atLimit))
	}
	want := map[string]skippedRun{
		overPath:  {RunID: "over", Path: overPath, Reason: string(errRunTooLarge)},
		badIDPath: {Path: badIDPath, Reason: "no usable run id"},
		linkPath:  {RunID: "ln", Path: linkPath, Reason: string(errSymlinkRun)},
	}
	if len(skipped) != len(want) {
		t.Errorf("skipped = %+v, want %d entries", skipped, len(want))
	}
	for _, s := range skipped {
		if w, ok := want[s.Path]; !ok || s != w {
			t.Errorf("skipped %+v, want %+v", s, w)
		}
	}
}
