package transfer

import (
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// Staged is a copy of the pack written inside Policy.FileRoot while the
// pack is still being verified, before the adapter has named the upload
// destination. When the adapter then answers with a file:// URL, Upload
// moves the staged copy into place with a rename instead of copying the pack
// again; the digest recorded by Seal is the hash of exactly the bytes that
// were written to the copy, so "the bytes hashed are the bytes uploaded"
// still holds. An unused copy is removed by Discard.
type Staged struct {
	mu     sync.Mutex
	dir    *safefile.Dir
	file   *os.File
	sha256 string
	size   int64
	sealed bool
	used   bool
}

// Stage creates an empty staged copy directly in p.FileRoot (never through a
// symbolic link, nor through a linked folder between p.ProjectRoot and
// FileRoot). It fails when FileRoot is unset or unusable; callers then
// simply upload the normal way.
func Stage(p Policy) (*Staged, error) {
	if p.FileRoot == "" {
		return nil, errcode.New(errcode.InvalidInput, "staging needs transport.file_root")
	}
	d, err := openRootDir(p, ".", false)
	if err != nil {
		return nil, err
	}
	f, err := d.CreateTemp(".epack-upload-*.part")
	if err != nil {
		d.Close()
		return nil, err
	}
	return &Staged{dir: d, file: f}, nil
}

// Writer is where the pack's bytes are copied to; their write-out to disk
// starts while they are still coming.
func (s *Staged) Writer() io.Writer { return &writeBehind{f: s.file} }

// Seal records the digest ("sha256:<hex>") and size of the bytes written.
func (s *Staged) Seal(sha256 string, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sha256, s.size, s.sealed = sha256, size, true
}

// Discard removes the staged copy unless Upload used it. Safe to call twice.
func (s *Staged) Discard() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == nil {
		return
	}
	if !s.used {
		s.file.Close()
		_ = s.dir.Remove(filepath.Base(s.file.Name()))
	}
	s.dir.Close()
	s.dir = nil
}

// commitTo moves the staged copy to name in d if it holds exactly want/size.
// It reports false (and leaves the copy alone) when it cannot be used.
func (s *Staged) commitTo(d *safefile.Dir, name, want string, size int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == nil || !s.sealed || s.used || s.sha256 != "sha256:"+want || s.size != size {
		return false, nil
	}
	st, err := s.file.Stat()
	if err != nil || st.Size() != size {
		return false, nil
	}
	if err := s.file.Chmod(0o644); err != nil {
		return false, nil
	}
	s.used = true // CommitFrom closes (and on failure removes) the file.
	return true, d.CommitFrom(s.dir, s.file, name, true)
}
