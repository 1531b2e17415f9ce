package transfer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// TestFileRootBelowProjectRootNeverThroughLinks: with file_root inside the
// project, a link on a folder between the project root and file_root (a
// linked .epack, say) used to be followed by file:// uploads, downloads and
// the staged copy. With Policy.ProjectRoot set, all three refuse it and
// nothing lands behind the link; a file_root outside the project keeps
// working as the user named it.
func TestFileRootBelowProjectRootNeverThroughLinks(t *testing.T) {
	base := t.TempDir()
	project := filepath.Join(base, "project")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{project, filepath.Join(outside, "registry", "blobs"), filepath.Join(base, "elsewhere", "blobs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(project, ".epack")); err != nil {
		t.Fatal(err)
	}
	data := []byte("pack bytes")
	blob := filepath.Join(outside, "registry", "blobs", "known")
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	linked := Policy{FileRoot: filepath.Join(project, ".epack", "registry"), ProjectRoot: project}

	up := fileReq(linked.FileRoot, linked.FileRoot+"/blobs/new", data)
	up.Policy = linked
	wantCode(t, NewClient().Upload(context.Background(), up), errcode.SymlinkNotAllowed)
	if _, err := os.Lstat(filepath.Join(outside, "registry", "blobs", "new")); !os.IsNotExist(err) {
		t.Fatal("uploaded through the linked .epack")
	}

	_, err := NewClient().Download(context.Background(), DownloadRequest{
		Target: Target{Method: "GET", URL: "file://" + linked.FileRoot + "/blobs/known"}, Policy: linked, Dest: destFile(t)})
	wantCode(t, err, errcode.SymlinkNotAllowed)

	if st, err := Stage(linked); err == nil {
		st.Discard()
		t.Fatal("staged through the linked .epack")
	} else {
		wantCode(t, err, errcode.SymlinkNotAllowed)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "registry")); len(ents) != 1 {
		t.Fatalf("files appeared behind the link: %v", ents)
	}

	// file_root outside the project: as the user named it.
	other := Policy{FileRoot: filepath.Join(base, "elsewhere"), ProjectRoot: project}
	up = fileReq(other.FileRoot, other.FileRoot+"/blobs/new", data)
	up.Policy = other
	if err := NewClient().Upload(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "elsewhere", "blobs", "new")); !bytes.Equal(b, data) {
		t.Fatal("upload outside the project did not land")
	}
	// A real file_root inside the project works.
	real := Policy{FileRoot: filepath.Join(project, "registry"), ProjectRoot: project}
	if err := os.Mkdir(real.FileRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	up = fileReq(real.FileRoot, real.FileRoot+"/blobs/sha256/x", data)
	up.Policy = real
	if err := NewClient().Upload(context.Background(), up); err != nil {
		t.Fatal(err)
	}
}
