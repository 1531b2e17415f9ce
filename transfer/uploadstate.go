package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/protocol"
)

// UploadStateDir is where a project keeps the state of multipart uploads,
// relative to its root.
const UploadStateDir = ".epack/uploads"

// uploadStateVersion is the format of UploadState files.
const uploadStateVersion = 1

// maxUploadStateBytes bounds a state file read back (10,000 parts fit).
const maxUploadStateBytes = 8 << 20

// UploadState is what the host keeps of a multipart upload, so that the
// same push run again after an interruption (Ctrl-C, kill -9, a network
// failure) continues it: where it goes, which file it is (its digest and
// size, re-verified before anything is resumed), the upload the adapter
// started and the parts the store took, with their checksums.
type UploadState struct {
	Version       int                     `json:"version"`
	Remote        string                  `json:"remote"`
	Target        protocol.TargetConfig   `json:"target"`
	PackPath      string                  `json:"pack_path"`
	FileDigest    string                  `json:"file_digest"`
	SizeBytes     int64                   `json:"size_bytes"`
	PartSize      int64                   `json:"part_size"`
	UploadID      string                  `json:"upload_id"`
	FinalizeToken string                  `json:"finalize_token"`
	Finished      []protocol.PartChecksum `json:"finished_parts"`
	CreatedAt     time.Time               `json:"created_at"`
	UpdatedAt     time.Time               `json:"updated_at"`
}

// Matches reports whether the state describes an upload of this very file
// (digest and size) to this remote and target in parts of partSize bytes.
func (s *UploadState) Matches(remote string, target protocol.TargetConfig, fileDigest string, size, partSize int64) bool {
	return s != nil && s.Version == uploadStateVersion && s.Remote == remote && s.Target == target &&
		s.FileDigest == fileDigest && s.SizeBytes == size && s.PartSize == partSize &&
		protocol.CheckUploadID(s.UploadID) == nil && s.FinalizeToken != ""
}

// UploadStates reads and writes state files below a project root; every
// folder from the root down is opened without following symbolic links
// and every write is durable (temp file, fsync, rename, fsync of the
// folder).
type UploadStates struct {
	ProjectRoot string
}

// StateName is the state file name of a push of packPath to remote.
func StateName(remote, packPath string) string {
	sum := sha256.Sum256([]byte(remote + "\x00" + filepath.Clean(packPath)))
	return hex.EncodeToString(sum[:16]) + ".json"
}

// Load returns the state named name, nil when there is none. A state file
// that cannot be read as one is an error (the caller starts over).
func (u UploadStates) Load(name string) (*UploadState, error) {
	d, err := safefile.OpenDirBelow(u.ProjectRoot, u.ProjectRoot, filepath.FromSlash(UploadStateDir), false, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	b, err := d.ReadFile(name, maxUploadStateBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading upload state %s: %w", name, err)
	}
	var st UploadState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "upload state %s is corrupt", name)
	}
	return &st, nil
}

// Save writes st under name durably, replacing what was there.
func (u UploadStates) Save(name string, st *UploadState) error {
	st.Version = uploadStateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return errcode.Wrap(errcode.Internal, err, "encoding upload state")
	}
	d, err := safefile.OpenDirBelow(u.ProjectRoot, u.ProjectRoot, filepath.FromSlash(UploadStateDir), true, 0o755)
	if err != nil {
		return err
	}
	defer d.Close()
	tmp, err := d.CreateTemp(".state-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		_ = d.Remove(filepath.Base(tmp.Name()))
		return errcode.Wrap(errcode.IOError, err, "writing upload state")
	}
	return d.Commit(tmp, name, true)
}

// Remove deletes the state named name; a missing one is not an error.
func (u UploadStates) Remove(name string) error {
	d, err := safefile.OpenDirBelow(u.ProjectRoot, u.ProjectRoot, filepath.FromSlash(UploadStateDir), false, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Remove(name)
}

// StateWriter saves a state in the background, so a part's success never
// waits for an fsync: Update records a change, a writer goroutine saves the
// newest state (changes made meanwhile are written together), and Close
// writes what is left and reports the first failure.
type StateWriter struct {
	states UploadStates
	name   string

	mu    sync.Mutex
	st    *UploadState
	dirty bool
	err   error
	kick  chan struct{}
	done  chan struct{}
}

// NewStateWriter starts a writer for the state named name.
func NewStateWriter(states UploadStates, name string, st *UploadState) *StateWriter {
	w := &StateWriter{states: states, name: name, st: st, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w
}

// Update changes the state (under the writer's lock) and schedules a save.
func (w *StateWriter) Update(fn func(st *UploadState)) {
	w.mu.Lock()
	fn(w.st)
	w.st.UpdatedAt = time.Now().UTC()
	w.dirty = true
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *StateWriter) loop() {
	defer close(w.done)
	for range w.kick {
		w.flush()
	}
}

func (w *StateWriter) flush() {
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		return
	}
	b, _ := json.Marshal(w.st)
	var snap UploadState
	_ = json.Unmarshal(b, &snap)
	w.dirty = false
	w.mu.Unlock()
	if err := w.states.Save(w.name, &snap); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
}

// Close writes any pending change and stops the writer.
func (w *StateWriter) Close() error {
	close(w.kick)
	<-w.done
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
