package sealedexec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// MaxBinarySize bounds the size of an adapter binary we are willing to copy.
const MaxBinarySize = 1 << 30

// Sealed is an immutable, verified copy of an executable.
type Sealed struct {
	orig   string // the original path (argv[0])
	digest string // "sha256:<hex>" of the copied bytes

	execPath string   // what execve is given
	fd       *os.File // memfd (read-only reopen), nil for temp copies
	script   bool     // starts with "#!" (its interpreter opens /proc/self/fd/3)
	dir      string   // private temp dir of the fallback, "" for memfd
}

// Path returns the original path of the binary.
func (s *Sealed) Path() string { return s.orig }

// Digest returns "sha256:<hex>" of the sealed bytes.
func (s *Sealed) Digest() string { return s.digest }

// Memfd reports whether the copy is a sealed memfd (as opposed to a temp file).
func (s *Sealed) Memfd() bool { return s.fd != nil }

// TempDir returns the private directory of a temp-file copy ("" for memfd).
func (s *Sealed) TempDir() string { return s.dir }

// Close removes the copy. It is idempotent.
func (s *Sealed) Close() error {
	if s == nil {
		return nil
	}
	var err error
	// A closed copy must never run again: its fd number may name another
	// file by now (another session's adapter, say), so the path goes too.
	s.execPath = ""
	if s.fd != nil {
		err = s.fd.Close()
		s.fd = nil
	}
	if s.dir != "" {
		_ = os.Chmod(s.dir, 0o700)
		if e := os.RemoveAll(s.dir); e != nil && err == nil {
			err = e
		}
		s.dir = ""
	}
	s.execPath = ""
	return err
}

// Command returns an exec.Cmd that runs the sealed copy with argv[0] set to
// the original path and the given arguments. The caller sets Env, Dir,
// pipes and SysProcAttr (ExtraFiles may be set here; do not replace them).
func (s *Sealed) Command(ctx context.Context, args ...string) (*exec.Cmd, error) {
	if s == nil || s.execPath == "" {
		return nil, errcode.New(errcode.Internal, "sealed executable is closed")
	}
	cmd := exec.CommandContext(ctx, s.orig)
	cmd.Err = nil
	cmd.Path = s.execPath
	cmd.Args = append([]string{s.orig}, args...)
	if s.fd != nil {
		// The child gets the memfd as its descriptor 3 and runs that. Our
		// own number for it is not safe to name: between fork and exec the
		// runtime moves the child's error pipe onto the first number past
		// the descriptors it hands the child, which can be the memfd's
		// (execve then opens the pipe: EACCES). A script needs this anyway:
		// its interpreter opens the path after exec. The adapter keeps the
		// read-only, sealed descriptor of its own program open.
		cmd.ExtraFiles = []*os.File{s.fd}
		cmd.Path = "/proc/self/fd/3"
	}
	return cmd, nil
}

// IsTextBusy reports whether err is ETXTBSY (a racing fork still holds the
// write fd of a temp copy); callers may retry the start once.
func IsTextBusy(err error) bool { return errors.Is(err, syscall.ETXTBSY) }

// Seal copies the executable at path into a sealed copy while hashing it. If
// want is non-empty ("sha256:<hex>"), the digest must match or an error with
// errcode.DigestMismatch is returned and nothing is left behind.
func Seal(path, want string) (*Sealed, error) {
	src, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "stat %s", path)
	}
	if !st.Mode().IsRegular() {
		return nil, errcode.New(errcode.AdapterExecFailed, "refusing to execute %s: not a regular file", path)
	}
	if st.Size() > MaxBinarySize {
		return nil, errcode.New(errcode.AdapterExecFailed, "refusing to execute %s: larger than %d bytes", path, MaxBinarySize)
	}
	// Not a named result: the cleanup must see the copy even when the
	// function returns nil (COMPAT W16).
	s := &Sealed{orig: path}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	h := sha256.New()
	head, err := sealCopy(s, src, st.Size(), h)
	if err != nil {
		return nil, err
	}
	s.script = bytes.HasPrefix(head, []byte("#!"))
	s.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && !DigestEqual(s.digest, want) {
		return nil, errcode.New(errcode.DigestMismatch, "digest mismatch for %s: binary does not match expected %s", filepath.Base(path), want).
			WithHint("the adapter changed since it was pinned; reinstall it or run 'epack lock' if the change is expected")
	}
	ok = true
	return s, nil
}

// sealCopy tries memfd first, then a private temp copy, of src (size bytes
// when it was opened, at most MaxBinarySize). It returns the first bytes of
// the file.
func sealCopy(s *Sealed, src *os.File, size int64, h hash.Hash) ([]byte, error) {
	head, err := sealMemfd(s, src, size, h)
	if err == nil {
		return head, nil
	}
	if !errors.Is(err, errNoMemfd) {
		return nil, err
	}
	h.Reset()
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "rewinding %s", src.Name())
	}
	return sealTemp(s, src, h)
}

var errNoMemfd = errors.New("memfd unavailable")

// copyHash copies src to dst and hashes the same bytes with h, hashing one
// chunk while the next is written (two buffers; a chunk is reused only after
// both its write and its hash are done). It returns the first bytes.
func copyHash(dst io.Writer, src io.Reader, h hash.Hash) ([]byte, error) {
	const chunk = 1 << 20
	bufs := [2][]byte{make([]byte, chunk), make([]byte, chunk)}
	toHash := make(chan []byte)
	hashed := make(chan struct{})
	go func() {
		for b := range toHash {
			h.Write(b)
			hashed <- struct{}{}
		}
	}()
	defer close(toHash)
	var head []byte
	var total int64
	pending := false // a chunk is being hashed
	wait := func() {
		if pending {
			<-hashed
			pending = false
		}
	}
	defer wait()
	for cur := 0; ; cur ^= 1 {
		n, rerr := io.ReadFull(src, bufs[cur])
		if rerr == io.ErrUnexpectedEOF {
			rerr = io.EOF
		}
		if n > 0 {
			if head == nil {
				head = append([]byte(nil), bufs[cur][:min(n, 4)]...)
			}
			total += int64(n)
			if total > MaxBinarySize {
				return nil, errcode.New(errcode.AdapterExecFailed, "adapter binary grew past %d bytes while copying", MaxBinarySize)
			}
			wait() // the previous chunk's hash is done: keep the order of h
			toHash <- bufs[cur][:n]
			pending = true
			if _, err := dst.Write(bufs[cur][:n]); err != nil {
				return nil, errcode.Wrap(errcode.IOError, err, "copying adapter binary")
			}
		}
		if rerr == io.EOF {
			wait()
			return head, nil
		}
		if rerr != nil {
			return nil, errcode.Wrap(errcode.IOError, rerr, "reading adapter binary")
		}
	}
}

// sealTemp writes a 0500 copy into a private 0700 directory.
func sealTemp(s *Sealed, src *os.File, h hash.Hash) ([]byte, error) {
	dir, err := os.MkdirTemp(privateBase(), "epack-exec-")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating private exec directory")
	}
	s.dir = dir
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "securing %s", dir)
	}
	name := filepath.Base(s.orig)
	if name == "" || name == "." || name == string(filepath.Separator) || strings.ContainsRune(name, 0) {
		name = "adapter"
	}
	dst := filepath.Join(dir, name)
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o500)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating sealed copy")
	}
	head, err := copyHash(f, src, h)
	if err == nil {
		if e := f.Sync(); e != nil {
			err = errcode.Wrap(errcode.IOError, e, "syncing sealed copy")
		}
	}
	if e := f.Close(); e != nil && err == nil {
		err = errcode.Wrap(errcode.IOError, e, "closing sealed copy")
	}
	if err != nil {
		return nil, err
	}
	s.execPath = dst
	return head, nil
}

// privateBase returns XDG_RUNTIME_DIR when it is ours and 0700, else os.TempDir().
func privateBase() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		if st, err := os.Lstat(d); err == nil && st.IsDir() && st.Mode().Perm() == 0o700 {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) == os.Getuid() {
				return d
			}
		}
	}
	return os.TempDir()
}

// openNoFollow opens path read-only refusing symlinks, FIFOs blocking, etc.
func openNoFollow(path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, errcode.New(errcode.InvalidInput, "adapter path %q is not absolute", path)
	}
	f, err := safefile.OpenNoFollow(path)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ELOOP):
			return nil, errcode.New(errcode.SymlinkNotAllowed, "refusing to execute symlink %s", path).
				WithHint("point the remote at the real file, not a symlink")
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
			return nil, errcode.Wrap(errcode.BinaryNotFound, err, "adapter binary %s not found", path)
		}
		return nil, errcode.Wrap(errcode.AdapterExecFailed, err, "opening adapter binary")
	}
	return f, nil
}

// HashFile returns "sha256:<hex>" of the regular file at path, refusing symlinks.
func HashFile(path string) (string, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "stat %s", path)
	}
	if !st.Mode().IsRegular() {
		return "", errcode.New(errcode.InvalidInput, "%s is not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", errcode.Wrap(errcode.IOError, err, "hashing %s", path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// DigestEqual compares two "sha256:<hex>" digests in constant time
// (hex case-insensitive; the prefix is required on both).
func DigestEqual(got, want string) bool {
	g, ok1 := parseDigest(got)
	w, ok2 := parseDigest(want)
	if !ok1 || !ok2 {
		return false
	}
	return subtle.ConstantTimeCompare(g, w) == 1
}

func parseDigest(d string) ([]byte, bool) {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexPart) != 64 {
		return nil, false
	}
	b, err := hex.DecodeString(hexPart)
	if err != nil {
		return nil, false
	}
	return b, true
}

// String describes the copy for debugging.
func (s *Sealed) String() string {
	kind := "memfd"
	if s.fd == nil {
		kind = "tempfile"
	}
	return fmt.Sprintf("sealed(%s, %s, %s)", s.orig, kind, s.digest)
}

// SetMemfd enables or disables the memfd path (tests use it to exercise the
// temp-copy fallback). It returns the previous setting.
func SetMemfd(on bool) (was bool) {
	was = !disableMemfd
	disableMemfd = !on
	return was
}
