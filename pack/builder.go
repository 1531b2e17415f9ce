package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// ArtifactOptions are the optional manifest fields of an added artifact.
// Content type is never guessed: it is only what the caller sets here.
type ArtifactOptions struct {
	ContentType string
	DisplayName string
	Description string
	CollectedAt string // strict timestamp, YYYY-MM-DDTHH:MM:SSZ
	Schema      string
	Controls    []string
}

// Builder assembles a pack. Add artifacts and sources, then WriteFile.
// The pack it writes always passes Open and VerifyIntegrity.
type Builder struct {
	stream     string
	sources    []Source
	arts       map[string]*buildArtifact
	keys       map[string]string // collisionKey → path, so each add is one lookup
	provenance *Provenance
	profiles   []ProfileRef
	overlays   []ProfileRef
	// Now returns the generation time; tests may replace it.
	Now func() time.Time
	// NoReplace makes WriteFile refuse (OutputExists) when the output
	// already exists, atomically: a pack written at the same moment by
	// someone else is never replaced.
	NoReplace bool
}

type buildArtifact struct {
	meta Artifact
	data []byte // in memory, or nil when src is set
	src  string // file read again at write time
}

// NewBuilder returns a builder for a pack of the given stream.
func NewBuilder(stream string) *Builder {
	return &Builder{stream: stream, arts: map[string]*buildArtifact{}, keys: map[string]string{}, Now: time.Now}
}

// AddSource records a collector; version may be empty.
func (b *Builder) AddSource(name, version string) *Builder {
	b.sources = append(b.sources, Source{Name: name, Version: version})
	return b
}

// AddSourceInfo records a collector with all its optional fields.
func (b *Builder) AddSourceInfo(s Source) *Builder {
	if s.Artifacts != nil {
		s.Artifacts = &SourceArtifacts{Count: s.Artifacts.Count, Paths: cloneStrings(s.Artifacts.Paths)}
	}
	b.sources = append(b.sources, s)
	return b
}

// SetProvenance sets (or, with nil, clears) the provenance block.
func (b *Builder) SetProvenance(p *Provenance) *Builder {
	if p == nil {
		b.provenance = nil
		return b
	}
	b.provenance = (&Manifest{Provenance: p}).Clone().Provenance
	return b
}

// SetProfiles sets the profile references.
func (b *Builder) SetProfiles(refs ...ProfileRef) *Builder {
	b.profiles = append([]ProfileRef(nil), refs...)
	return b
}

// SetOverlays sets the overlay references.
func (b *Builder) SetOverlays(refs ...ProfileRef) *Builder {
	b.overlays = append([]ProfileRef(nil), refs...)
	return b
}

func (b *Builder) prepare(name string, opts []ArtifactOptions) (*buildArtifact, error) {
	path := "artifacts/" + name
	if err := validateArtifactPath(path); err != nil {
		return nil, err
	}
	if _, dup := b.arts[path]; dup {
		return nil, errcode.New(errcode.DuplicatePath, "artifact %q was already added", path)
	}
	if p, ok := b.keys[collisionKey(path)]; ok {
		return nil, errcode.New(errcode.DuplicatePath, "artifact %q collides with %q on case-insensitive file systems", path, p).
			WithHint("rename one of them; paths must differ by more than letter case or trailing dots")
	}
	a := &buildArtifact{meta: Artifact{Type: "embedded", Path: path}}
	if len(opts) > 0 {
		o := opts[0]
		a.meta.ContentType, a.meta.DisplayName, a.meta.Description = o.ContentType, o.DisplayName, o.Description
		a.meta.CollectedAt, a.meta.Schema, a.meta.Controls = o.CollectedAt, o.Schema, cloneStrings(o.Controls)
	}
	return a, nil
}

// add records a prepared artifact under its path and its collision key.
func (b *Builder) add(a *buildArtifact) {
	b.arts[a.meta.Path] = a
	b.keys[collisionKey(a.meta.Path)] = a.meta.Path
}

// AddBytes adds data as artifacts/<name>. data is copied.
func (b *Builder) AddBytes(name string, data []byte, opts ...ArtifactOptions) error {
	a, err := b.prepare(name, opts)
	if err != nil {
		return err
	}
	if len(data) > MaxArtifactSize {
		return errcode.New(errcode.ArtifactTooLarge, "artifact %q is over the 100 MiB limit", a.meta.Path)
	}
	a.data = append([]byte{}, data...)
	a.meta.Size = int64(len(data))
	a.meta.Digest = DigestBytes(data)
	b.add(a)
	return nil
}

// AddReader reads at most 100 MiB from r and adds it as artifacts/<name>.
func (b *Builder) AddReader(name string, r io.Reader, opts ...ArtifactOptions) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxArtifactSize+1))
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "reading artifact %q", name)
	}
	if len(data) > MaxArtifactSize {
		return errcode.New(errcode.ArtifactTooLarge, "artifact %q is over the 100 MiB limit", name)
	}
	return b.AddBytes(name, data, opts...)
}

// AddFile adds the file src as artifacts/<name>. The file is hashed now and
// streamed again at write time; if it changed in between, WriteFile fails.
func (b *Builder) AddFile(name, src string, opts ...ArtifactOptions) error {
	a, err := b.prepare(name, opts)
	if err != nil {
		return err
	}
	f, err := openNoBlock(src)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "artifact source").WithHint("check the file path")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "artifact source")
	}
	if !st.Mode().IsRegular() {
		return errcode.New(errcode.InvalidInput, "%s is not a regular file", src)
	}
	if st.Size() > MaxArtifactSize {
		return errcode.New(errcode.ArtifactTooLarge, "%s is over the 100 MiB artifact limit", src)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, MaxArtifactSize+1))
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "reading %s", src)
	}
	if n > MaxArtifactSize {
		return errcode.New(errcode.ArtifactTooLarge, "%s is over the 100 MiB artifact limit", src)
	}
	a.src = src
	a.meta.Size = n
	a.meta.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	b.add(a)
	return nil
}

// BuildResult describes a written pack.
type BuildResult struct {
	Path           string
	Manifest       *Manifest
	ManifestDigest string
	Size           int64
	// File holds the digests of the written file: File.SHA256 is the
	// digest 'pull --digest' and registries key the pack by.
	File FileSums
}

// Manifest returns the manifest the builder would write now.
func (b *Builder) Manifest() (*Manifest, []byte, error) {
	if b.stream == "" {
		return nil, nil, errcode.New(errcode.InvalidInput, "stream is required").WithHint("pass --stream, for example --stream acme/prod")
	}
	if len(b.arts) > MaxArtifacts {
		return nil, nil, errcode.New(errcode.TooManyArtifacts, "%d artifacts (limit %d)", len(b.arts), MaxArtifacts)
	}
	m := &Manifest{
		SpecVersion: SpecVersion,
		Stream:      b.stream,
		GeneratedAt: b.Now().UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"),
		Sources:     append([]Source{}, b.sources...),
		Artifacts:   make([]Artifact, 0, len(b.arts)),
		Provenance:  b.provenance,
		Profiles:    b.profiles,
		Overlays:    b.overlays,
	}
	var total int64
	for _, a := range b.arts {
		m.Artifacts = append(m.Artifacts, a.meta)
		total += a.meta.Size
	}
	if total > MaxReadBudget {
		return nil, nil, errcode.New(errcode.ArtifactTooLarge, "artifacts total %d bytes (limit 2 GiB)", total)
	}
	sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Path < m.Artifacts[j].Path })
	m.PackDigest = ComputePackDigest(m.Artifacts)
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Internal, err, "encoding manifest")
	}
	if len(raw) > MaxManifestSize {
		return nil, nil, errcode.New(errcode.ArtifactTooLarge, "manifest.json would be %d bytes (limit %d)", len(raw), MaxManifestSize)
	}
	// Self-check with the strict reader.
	if _, err := ParseManifest(raw); err != nil {
		return nil, nil, err
	}
	return m, raw, nil
}

// WriteFile writes the pack to out: into a temp file in the same folder,
// checked with Open, then renamed into place with mode 0600; ending ctx
// cancels the write.
func (b *Builder) WriteFile(ctx context.Context, out string) (*BuildResult, error) {
	m, raw, err := b.Manifest()
	if err != nil {
		return nil, err
	}
	mdig, err := ManifestDigest(raw)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(out)
	if err := makeOutputDir(dir); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "pack-*.zip")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating temp file in %s", dir)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// The file digest is computed from the bytes as they are written.
	sha, md := sha256.New(), md5.New()
	zw := zip.NewWriter(io.MultiWriter(tmp, sha, md))
	mod, _ := time.Parse("2006-01-02T15:04:05Z", m.GeneratedAt)
	if err := writeEntry(zw, "manifest.json", raw, mod); err != nil {
		return nil, err
	}
	if _, err := zw.CreateHeader(&zip.FileHeader{Name: "artifacts/", Method: zip.Store, Modified: mod}); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "writing pack")
	}
	for _, meta := range m.Artifacts {
		if err := ctx.Err(); err != nil {
			return nil, errcode.Wrap(errcode.Canceled, err, "build canceled")
		}
		a := b.arts[meta.Path]
		if a.src == "" {
			err = writeEntry(zw, a.meta.Path, a.data, mod)
		} else {
			err = writeFileEntry(zw, &a.meta, a.src, mod)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "writing pack")
	}
	// Packs are evidence to be shared, not secrets: readable like any
	// document (pulled packs get the same mode).
	if err := tmp.Chmod(0o644); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "writing pack")
	}
	if err := tmp.Sync(); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "writing pack")
	}
	check, err := OpenFile(tmp)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "built pack failed its own check")
	}
	check.Close()
	st, _ := tmp.Stat()
	if err := tmp.Close(); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "writing pack")
	}
	// An existing pack (or a link, which is replaced, not followed) may be
	// overwritten; a FIFO, socket or device node never is.
	if fi, err := os.Lstat(out); err == nil && !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
		return nil, errcode.New(errcode.InvalidInput, "%s exists and is not a regular file", out).WithHint("choose another output path")
	}
	if b.NoReplace {
		// link(2) fails when out exists, so a pack that appeared meanwhile is kept.
		if err := os.Link(tmp.Name(), out); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, errcode.New(errcode.OutputExists, "%s already exists", out).WithHint("use --force to replace it, or choose another name")
			}
			return nil, errcode.Wrap(errcode.IOError, err, "moving pack into place")
		}
		os.Remove(tmp.Name())
	} else if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "moving pack into place")
	}
	ok = true
	sums := FileSums{Size: st.Size(), SHA256: "sha256:" + hex.EncodeToString(sha.Sum(nil)), MD5Base64: base64.StdEncoding.EncodeToString(md.Sum(nil))}
	return &BuildResult{Path: out, Manifest: m, ManifestDigest: mdig, Size: st.Size(), File: sums}, nil
}

// makeOutputDir creates dir (0755) from its nearest existing ancestor and
// refuses when that ancestor, or dir itself, is a symlink.
func makeOutputDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "output folder")
	}
	var missing []string
	cur := abs
	for {
		st, err := os.Lstat(cur)
		if err == nil {
			if st.Mode()&os.ModeSymlink != 0 {
				return errcode.New(errcode.SymlinkNotAllowed, "output folder %s is a symbolic link", cur).WithHint("write the pack to a real folder")
			}
			if !st.IsDir() {
				return errcode.New(errcode.InvalidInput, "%s is not a folder", cur)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return errcode.Wrap(errcode.IOError, err, "output folder")
		}
		missing = append(missing, cur)
		parent := filepath.Dir(cur)
		if parent == cur {
			break
		}
		cur = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return errcode.Wrap(errcode.IOError, err, "creating output folder")
		}
	}
	return nil
}

// compress deflates data; ok is false when storing is better or required
// (the result would not be smaller, or the ratio would pass 100:1).
func compress(data []byte) (comp []byte, ok bool) {
	if len(data) == 0 {
		return nil, false
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	fw.Write(data)
	fw.Close()
	c, u := uint64(buf.Len()), uint64(len(data))
	if c >= u || u/c > MaxRatio || (u/c == MaxRatio && u%c != 0) {
		return nil, false
	}
	return buf.Bytes(), true
}

// writeEntry writes one in-memory entry, deflated unless storing is needed
// to stay within the reader's ratio limit (COMPAT §9 W3).
func writeEntry(zw *zip.Writer, name string, data []byte, mod time.Time) error {
	fh := &zip.FileHeader{Name: name, Method: zip.Store, Modified: mod, CRC32: crc32.ChecksumIEEE(data),
		UncompressedSize64: uint64(len(data)), CompressedSize64: uint64(len(data))}
	// CreateRaw writes the header as given, so fill in the MS-DOS time too.
	if y := mod.Year(); y >= 1980 && y < 2108 {
		fh.ModifiedDate = uint16((y-1980)<<9 | int(mod.Month())<<5 | mod.Day())
		fh.ModifiedTime = uint16(mod.Hour()<<11 | mod.Minute()<<5 | mod.Second()/2)
	}
	payload := data
	if comp, ok := compress(data); ok {
		fh.Method, fh.CompressedSize64, payload = zip.Deflate, uint64(len(comp)), comp
	}
	w, err := zw.CreateRaw(fh)
	if err == nil {
		_, err = w.Write(payload)
	}
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "writing %s", name)
	}
	return nil
}

// writeFileEntry streams a file artifact. Incompressible data (judged on
// the first 256 KiB) is stored as it is read; otherwise it is deflated in
// memory and stored instead if the ratio would pass the limit. The bytes
// are hashed again and must match the digest taken when the file was added.
func writeFileEntry(zw *zip.Writer, a *Artifact, src string, mod time.Time) error {
	f, err := openNoBlock(src)
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "reading %s", src)
	}
	defer f.Close()
	changed := func() error {
		return errcode.New(errcode.InvalidInput, "%s changed while the pack was being built", src).WithHint("build again once the file is stable")
	}
	probe := make([]byte, 256<<10)
	pn, _ := io.ReadFull(f, probe)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return errcode.Wrap(errcode.IOError, err, "reading %s", src)
	}
	if _, ok := compress(probe[:pn]); !ok && pn == len(probe) {
		// Incompressible: store while streaming; archive/zip computes CRC and sizes.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.Path, Method: zip.Store, Modified: mod})
		if err != nil {
			return errcode.Wrap(errcode.IOError, err, "writing %s", a.Path)
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, a.Size+1))
		if err != nil {
			return errcode.Wrap(errcode.IOError, err, "writing %s", a.Path)
		}
		if n != a.Size || !digestEqual("sha256:"+hex.EncodeToString(h.Sum(nil)), a.Digest) {
			return changed()
		}
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(f, a.Size+1))
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "reading %s", src)
	}
	if int64(len(data)) != a.Size || !digestEqual(DigestBytes(data), a.Digest) {
		return changed()
	}
	return writeEntry(zw, a.Path, data, mod)
}
