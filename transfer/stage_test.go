package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestStagedUpload(t *testing.T) {
	body := bytes.Repeat([]byte("evidence "), 10000)
	tests := []struct {
		name       string
		staged     []byte // what the staged copy holds
		sealDigest string
		wantRename bool
	}{
		{"staged copy used", body, shaOf(body), true},
		{"sealed digest differs: copy from body", body, shaOf([]byte("other")), false},
		{"staged bytes differ in size: copy from body", body[:100], shaOf(body), false},
		{"not sealed: copy from body", body, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			p := Policy{FileRoot: root}
			st, err := Stage(p)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Discard()
			if _, err := st.Writer().Write(tc.staged); err != nil {
				t.Fatal(err)
			}
			if tc.sealDigest != "" {
				st.Seal(tc.sealDigest, int64(len(body)))
			}
			stagedName := st.file.Name()
			var last int64
			err = (&Client{}).Upload(context.Background(), UploadRequest{
				Target: Target{Method: "PUT", URL: "file://" + filepath.Join(root, "blobs", "x.epack")},
				Policy: p, Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: shaOf(body),
				Progress: func(w, total int64) { last = w }, Staged: st,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(root, "blobs", "x.epack"))
			if !bytes.Equal(got, body) {
				t.Fatal("destination does not hold the verified bytes")
			}
			if last != int64(len(body)) {
				t.Errorf("final progress %d", last)
			}
			_, statErr := os.Stat(stagedName)
			if tc.wantRename && statErr == nil {
				t.Error("staged copy still present after it was renamed into place")
			}
			st.Discard()
			if left, _ := filepath.Glob(filepath.Join(root, ".epack-upload-*")); len(left) != 0 {
				t.Errorf("staged copy left behind: %v", left)
			}
			if fi, err := os.Stat(filepath.Join(root, "blobs", "x.epack")); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("destination mode: %v %v", fi.Mode(), err)
			}
		})
	}
}

func TestStageRefusesSymlinkedRoot(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Stage(Policy{FileRoot: link}); err == nil {
		t.Fatal("staged through a symlinked file_root")
	}
	if _, err := Stage(Policy{}); err == nil {
		t.Fatal("staged without file_root")
	}
}
