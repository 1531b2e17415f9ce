package pack

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/evidencerelay/epack/errcode"
)

// Pack is an opened, structurally valid evidence pack. Opening checks every
// ZIP-safety and structure rule and decodes the manifest; artifact bytes are
// checked by VerifyIntegrity, ReadArtifact and OpenArtifact. A Pack is safe
// for concurrent use.
type Pack struct {
	ra             io.ReaderAt
	size           int64
	zr             *zip.Reader
	files          map[string]*zip.File // regular files by name
	manifest       *Manifest
	manifestRaw    []byte
	manifestDigest string
	byPath         map[string]int // manifest artifact index by path
	attestations   []string

	closeOnce sync.Once
	closer    io.Closer
	closeErr  error
}

// Open opens the pack file at path and checks it (COMPAT §1.9).
func Open(path string) (*Pack, error) {
	f, size, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	p, err := OpenReaderAt(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.closer = f
	return p, nil
}

// OpenRegular opens the pack file at path for reading and returns it with
// its size; anything but a regular file is refused. It opens without
// blocking: opening a FIFO (or a device that waits for a peer) would
// otherwise hang before the check. O_NONBLOCK has no effect on reads of
// regular files. Callers that hash or upload the pack read this one
// descriptor, so the bytes verified are the bytes used.
func OpenRegular(path string) (*os.File, int64, error) {
	f, err := openNoBlock(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, errcode.Wrap(errcode.InvalidInput, err, "pack not found: %s", path).WithHint("check the pack path")
		}
		return nil, 0, errcode.Wrap(errcode.IOError, err, "opening pack")
	}
	size, err := regularSize(f)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// openNoBlock opens path for reading without waiting for a FIFO's peer.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// regularSize returns the size of f, which must be a regular file.
func regularSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, errcode.Wrap(errcode.IOError, err, "reading pack file")
	}
	if !st.Mode().IsRegular() {
		return 0, errcode.New(errcode.InvalidInput, "%s is not a regular file", f.Name()).WithHint("give the path of a .epack file")
	}
	return st.Size(), nil
}

// OpenFile opens a pack from an open file. It does not take ownership of f:
// closing the Pack leaves f open.
func OpenFile(f *os.File) (*Pack, error) {
	size, err := regularSize(f)
	if err != nil {
		return nil, err
	}
	return OpenReaderAt(f, size)
}

// OpenReaderAt opens a pack from size bytes of r.
func OpenReaderAt(r io.ReaderAt, size int64) (*Pack, error) {
	if err := precheckEntryCount(r, size); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, errcode.Wrap(errcode.NotAZip, err, "not a valid ZIP archive").WithHint("an evidence pack is a ZIP file; was the download complete?")
	}
	zr.RegisterDecompressor(zip.Deflate, newInflater)
	p := &Pack{ra: r, size: size, zr: zr}
	if err := p.checkEntries(); err != nil {
		return nil, err
	}
	if err := p.loadManifest(); err != nil {
		return nil, err
	}
	// After the spec's checks, so their error codes keep their order.
	if err := checkLocalHeaders(r, size); err != nil {
		return nil, err
	}
	return p, nil
}

var inflaters sync.Pool

// inflater is a pooled deflate reader with a read-ahead buffer sized to the
// entry (at most 64 KiB), so large entries need few ReadAt calls and many
// small entries do not allocate a full decompressor each.
type inflater struct{ fr io.ReadCloser }

func newInflater(r io.Reader) io.ReadCloser {
	size := 64 << 10
	if sr, ok := r.(*io.SectionReader); ok && sr.Size() < int64(size) {
		size = int(max(sr.Size(), 16))
	}
	br := bufio.NewReaderSize(r, size)
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(br, nil); err == nil {
			return &inflater{fr}
		}
	}
	return &inflater{flate.NewReader(br)}
}

func (z *inflater) Read(b []byte) (int, error) {
	if z.fr == nil {
		return 0, errors.New("read after close")
	}
	return z.fr.Read(b)
}

func (z *inflater) Close() error {
	if z.fr == nil {
		return nil
	}
	err := z.fr.Close()
	inflaters.Put(z.fr)
	z.fr = nil
	return err
}

// precheckEntryCount refuses archives whose end record declares too many
// entries before archive/zip allocates anything for them. It looks where
// archive/zip looks: the last end-of-central-directory signature in the
// final 65 KiB. When a field of that record is saturated, archive/zip takes
// the entry count from the ZIP64 end record instead, so this does too; a
// count of 0xFFFF with no ZIP64 record is read as 65,535 entries.
func precheckEntryCount(r io.ReaderAt, size int64) error {
	const eocdLen, window = 22, 65 * 1024
	n := min(size, window)
	if n < eocdLen {
		return nil // archive/zip reports the format error
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return nil
	}
	le := binary.LittleEndian
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if le.Uint32(buf[i:]) != 0x06054b50 {
			continue
		}
		total := uint64(le.Uint16(buf[i+10:]))
		// archive/zip's own trigger, including its 0xFFFF for the 32-bit size.
		if total == 0xFFFF || le.Uint32(buf[i+12:]) == 0xFFFF || le.Uint32(buf[i+16:]) == 0xFFFFFFFF {
			if rec, _, ok := zip64End(r, size, size-n+int64(i)); ok {
				total = le.Uint64(rec[32:])
			}
		}
		if total > MaxEntries {
			return errcode.New(errcode.TooManyArtifacts, "archive declares %d entries (limit %d)", total, MaxEntries)
		}
		return nil
	}
	return nil
}

// Unix file type bits in the high half of ExternalAttrs.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// entryType returns the Unix file type bits of f (0 when the archive
// records none) and whether its attributes mark it as a directory.
//
// The upper half of the external attributes is judged as a Unix st_mode
// whatever host the "version made by" field names. Info-ZIP's unzip reads
// it that way for Unix and OS X and also for VMS, Acorn, Atari, AtheOS,
// BeOS, QDOS and Tandem (Theos after masking), and even for FAT entries
// whose owner bits agree with the DOS attributes; other extractors keep
// their own lists. Writers that do not record Unix modes leave those bits
// zero, so any file type found there is meant as one, and only a regular
// file or a directory is safe to extract.
func entryType(f *zip.File) (unixType uint32, modeDir bool) {
	unixType = (f.ExternalAttrs >> 16) & sIFMT
	modeDir = unixType == sIFDIR
	switch f.CreatorVersion >> 8 {
	case 0, 11, 14: // FAT, NTFS, VFAT: the DOS directory bit counts too
		modeDir = modeDir || f.ExternalAttrs&0x10 != 0
	}
	return
}

func (p *Pack) checkEntries() error {
	files := p.zr.File
	// 1. Entry count.
	if len(files) > MaxEntries {
		return errcode.New(errcode.TooManyArtifacts, "archive has %d entries (limit %d)", len(files), MaxEntries)
	}
	// 2. Compression ratio of every non-directory entry, from declared sizes.
	for _, f := range files {
		_, modeDir := entryType(f)
		if modeDir || strings.HasSuffix(f.Name, "/") {
			continue
		}
		c, u := f.CompressedSize64, f.UncompressedSize64
		if c == 0 && u == 0 {
			continue
		}
		if c == 0 || u/c > MaxRatio || (u/c == MaxRatio && u%c != 0) {
			return errcode.New(errcode.ZipBomb, "entry %q: compression ratio over %d:1 (%d → %d bytes)", f.Name, MaxRatio, c, u)
		}
	}
	// 3 and 4. Entry kinds, names, duplicates, entry by entry.
	p.files = make(map[string]*zip.File, len(files))
	keys := make(map[string]string, len(files))
	for _, f := range files {
		name := f.Name
		unixType, modeDir := entryType(f)
		nameDir := strings.HasSuffix(name, "/")
		bad := func(format string, args ...any) error {
			return errcode.New(errcode.InvalidPath, "entry %q: "+format, append([]any{name}, args...)...)
		}
		if f.Flags&1 != 0 {
			return errcode.New(errcode.NotAZip, "entry %q is encrypted", name).WithHint("evidence packs cannot be encrypted")
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return errcode.New(errcode.NotAZip, "entry %q uses unsupported compression method %d", name, f.Method)
		}
		if err := checkUnicodePath(name, f.Extra, "central directory"); err != nil {
			return err
		}
		switch {
		case modeDir && !nameDir:
			return bad("directory attributes but no trailing '/'")
		case nameDir:
			if unixType != 0 && unixType != sIFDIR {
				return bad("name ends with '/' but attributes say it is not a directory")
			}
			if f.UncompressedSize64 != 0 || f.CompressedSize64 != 0 {
				return bad("directory entry with data")
			}
			if err := ValidatePath(strings.TrimSuffix(name, "/")); err != nil {
				return err
			}
			if isAppleDouble(name) {
				return bad("macOS metadata (AppleDouble) entry")
			}
			continue
		case unixType == sIFLNK:
			return bad("symbolic link")
		case unixType == sIFCHR || unixType == sIFBLK:
			return bad("device file")
		}
		if err := ValidatePath(name); err != nil {
			return err
		}
		if isAppleDouble(name) {
			return bad("macOS metadata (AppleDouble) entry")
		}
		if _, dup := p.files[name]; dup {
			return errcode.New(errcode.DuplicatePath, "entry %q appears more than once", name)
		}
		key := collisionKey(name)
		if prev, dup := keys[key]; dup {
			return errcode.New(errcode.DuplicatePath, "entries %q and %q collide on case-insensitive file systems", prev, name)
		}
		keys[key] = name
		p.files[name] = f
		// 5. Only regular files.
		if unixType != 0 && unixType != sIFREG {
			return bad("not a regular file (pipe, socket or other special file)")
		}
	}
	// 6. Artifact count.
	nArt := 0
	for name := range p.files {
		if strings.HasPrefix(name, "artifacts/") {
			nArt++
		}
	}
	if nArt > MaxArtifacts {
		return errcode.New(errcode.TooManyArtifacts, "pack has %d artifacts (limit %d)", nArt, MaxArtifacts)
	}
	// 7. Structure (COMPAT §1.1).
	hasArtifacts := false
	for _, f := range files {
		name := f.Name
		if strings.HasPrefix(name, "artifacts/") {
			hasArtifacts = true
		}
		if strings.HasSuffix(name, "/") {
			if !strings.HasPrefix(name, "artifacts/") && !strings.HasPrefix(name, "attestations/") {
				return errcode.New(errcode.InvalidPath, "unexpected folder %q (only artifacts/ and attestations/ are allowed)", name)
			}
			continue
		}
		switch {
		case name == "manifest.json", strings.HasPrefix(name, "artifacts/"):
		case strings.HasPrefix(name, "attestations/"):
			if !isAttestationPath(name) {
				return errcode.New(errcode.InvalidPath, "attestation %q must be attestations/<name>.sigstore.json", name)
			}
			p.attestations = append(p.attestations, name)
		default:
			return errcode.New(errcode.InvalidPath, "unexpected entry %q (only manifest.json, artifacts/ and attestations/ are allowed)", name)
		}
	}
	if !hasArtifacts {
		return errcode.New(errcode.MissingRequiredField, "pack has no artifacts/ folder")
	}
	// Not in COMPAT's list; after it, so archives it refuses keep its codes.
	if err := checkFileFolderClash(files, keys); err != nil {
		return err
	}
	sort.Strings(p.attestations)
	return nil
}

// checkFileFolderClash refuses a name that is both a file and a folder: a
// folder entry, or a folder above another file, with the collision key of a
// file. Extracting such an archive loses one of the two (or, differing only
// in case, mixes them on Windows and macOS), so what lands on disk is not
// what was verified. fileKeys maps the collision key of each file to its name.
func checkFileFolderClash(files []*zip.File, fileKeys map[string]string) error {
	for _, f := range files {
		key := collisionKey(strings.TrimSuffix(f.Name, "/"))
		for i := 0; i < len(key); i++ {
			if key[i] != '/' {
				continue
			}
			if file, clash := fileKeys[key[:i]]; clash {
				return errcode.New(errcode.DuplicatePath, "%q is a file, but entry %q uses it as a folder", file, f.Name).
					WithHint("a name can be a file or a folder, not both; rebuild the pack with epack build")
			}
		}
		if strings.HasSuffix(f.Name, "/") {
			if file, clash := fileKeys[key]; clash {
				return errcode.New(errcode.DuplicatePath, "folder entry %q has the name of the file %q", f.Name, file).
					WithHint("a name can be a file or a folder, not both; rebuild the pack with epack build")
			}
		}
	}
	return nil
}

func (p *Pack) loadManifest() error {
	// 8. manifest.json, read with a cap.
	f, ok := p.files["manifest.json"]
	if !ok {
		return errcode.New(errcode.MissingRequiredField, "pack has no manifest.json")
	}
	if f.UncompressedSize64 > MaxManifestSize {
		return errcode.New(errcode.ArtifactTooLarge, "manifest.json is %d bytes (limit %d)", f.UncompressedSize64, MaxManifestSize)
	}
	rc, err := f.Open()
	if err != nil {
		return errcode.Wrap(errcode.NotAZip, err, "reading manifest.json")
	}
	raw, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	rc.Close()
	if err != nil {
		return zipReadError("manifest.json", err)
	}
	if len(raw) > MaxManifestSize {
		return errcode.New(errcode.ArtifactTooLarge, "manifest.json is over %d bytes", MaxManifestSize)
	}
	// 9. Strict decoding, then the manifest digest.
	m, md, err := parseManifestDigest(raw, true)
	if err != nil {
		return err
	}
	// 10. Cross-check manifest and archive.
	p.byPath = make(map[string]int, len(m.Artifacts))
	for i, a := range m.Artifacts {
		if _, ok := p.files[a.Path]; !ok {
			return errcode.New(errcode.MissingEntry, "artifact %q is listed in the manifest but missing from the archive", a.Path)
		}
		p.byPath[a.Path] = i
	}
	for _, f := range p.zr.File {
		if strings.HasPrefix(f.Name, "artifacts/") && !strings.HasSuffix(f.Name, "/") {
			if _, ok := p.byPath[f.Name]; !ok {
				return errcode.New(errcode.InvalidPath, "file %q is not listed in the manifest", f.Name)
			}
		}
	}
	p.manifest, p.manifestRaw, p.manifestDigest = m, raw, md
	return nil
}

// Close releases the file opened by Open. It is safe to call more than once.
func (p *Pack) Close() error {
	p.closeOnce.Do(func() {
		if p.closer != nil {
			p.closeErr = p.closer.Close()
		}
	})
	return p.closeErr
}

// Manifest returns a deep copy of the decoded manifest.
func (p *Pack) Manifest() *Manifest { return p.manifest.Clone() }

// ManifestDigest returns the JCS manifest digest, "sha256:<hex>".
func (p *Pack) ManifestDigest() string { return p.manifestDigest }

// RawManifest returns a copy of the manifest.json bytes as stored in the pack.
func (p *Pack) RawManifest() []byte { return append([]byte(nil), p.manifestRaw...) }

// Artifacts returns a copy of the manifest's artifact list, in manifest order.
func (p *Pack) Artifacts() []Artifact { return p.manifest.Clone().Artifacts }

// Attestations returns the attestation entry names, sorted.
func (p *Pack) Attestations() []string { return append([]string{}, p.attestations...) }

// Size returns the size of the pack file in bytes.
func (p *Pack) Size() int64 { return p.size }

// HasFile reports whether the archive holds a regular file named name.
func (p *Pack) HasFile(name string) bool {
	_, ok := p.files[name]
	return ok
}
