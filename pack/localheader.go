package pack

import (
	"archive/zip"
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"slices"

	"github.com/evidencerelay/epack/errcode"
)

// offsetRecorder passes reads through and remembers the offset of the last
// one. archive/zip does not expose where an entry's local file header is,
// but File.DataOffset reads exactly that header, so the recorded offset is it.
type offsetRecorder struct {
	r    io.ReaderAt
	last int64
}

func (o *offsetRecorder) ReadAt(p []byte, off int64) (int, error) {
	o.last = off
	return o.r.ReadAt(p, off)
}

// windowReader serves small reads from one cached window of the archive, so
// walking thousands of local headers of small entries costs a read per
// window instead of several per entry. Not safe for concurrent use; reads
// that do not fit a window go straight through.
type windowReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // archive offset of buf[0]
}

const readWindow = 64 << 10

func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > readWindow/2 || off < 0 {
		return w.r.ReadAt(p, off)
	}
	if off < w.off || off+int64(len(p)) > w.off+int64(len(w.buf)) {
		n := int64(readWindow)
		if rest := w.size - off; rest < n {
			n = max(rest, 0)
		}
		if cap(w.buf) < readWindow {
			w.buf = make([]byte, readWindow)
		}
		w.buf = w.buf[:n]
		m, err := w.r.ReadAt(w.buf, off)
		w.buf, w.off = w.buf[:m], off
		if m < len(p) {
			if err == nil {
				err = io.EOF
			}
			return copy(p, w.buf), err
		}
	}
	return copy(p, w.buf[off-w.off:]), nil
}

// checkLocalHeaders refuses an archive whose local file headers (or data
// descriptors) tell another story than the central directory: name,
// compression method, the flags that change how an entry is read or named,
// CRC-32 and sizes. archive/zip reads only the central directory, but
// streaming extractors (jar x, bsdtar, unzip reading a pipe) go by the
// local headers, so such a pack would be verified as one thing and unpacked
// elsewhere as another (a local name "../../evil.sh", or a local size that
// cuts the verified content short). It uses its own zip.Reader so the
// recorder never sees the Pack's concurrent reads.
func checkLocalHeaders(r io.ReaderAt, size int64) error {
	r = &windowReader{r: r, size: size}
	rec := &offsetRecorder{r: r}
	zr, err := zip.NewReader(rec, size)
	if err != nil && zr == nil {
		return errcode.Wrap(errcode.NotAZip, err, "not a valid ZIP archive")
	}
	spans := make([]span, 0, len(zr.File))
	for _, f := range zr.File {
		rec.last = -1
		dataOff, err := f.DataOffset()
		if err != nil || rec.last < 0 {
			return errcode.New(errcode.NotAZip, "entry %q: no valid local file header", f.Name)
		}
		lh, err := readLocalHeader(r, rec.last)
		if err != nil {
			return errcode.Wrap(errcode.NotAZip, err, "entry %q: local file header cut short", f.Name)
		}
		if err := lh.agrees(f); err != nil {
			return err
		}
		spans = append(spans, span{name: f.Name, start: rec.last, dataEnd: dataOff + int64(f.CompressedSize64),
			descriptor: f.Flags&flagDescriptor != 0, crc: f.CRC32, csize: f.CompressedSize64, usize: f.UncompressedSize64})
	}
	return checkLayout(r, size, spans)
}

// General purpose flag bits.
const (
	flagEncrypted       = 0x0001
	flagDescriptor      = 0x0008
	flagStrongEncrypted = 0x0040
	flagUTF8            = 0x0800
	flagMaskedHeaders   = 0x2000 // central directory encryption
	// flagsThatMatter must be the same in both headers: they decide whether
	// the data can be read at all, where it ends and how the name is
	// decoded. The others (deflate level hints) change nothing a reader does.
	flagsThatMatter = flagEncrypted | flagDescriptor | flagStrongEncrypted | flagUTF8 | flagMaskedHeaders
)

// localHeader is the part of a local file header this package compares.
type localHeader struct {
	flags, method     uint16
	crc, csize, usize uint32
	name, extra       []byte
}

// readLocalHeader reads the local file header at off with its name and
// extra field.
func readLocalHeader(r io.ReaderAt, off int64) (*localHeader, error) {
	var h [30]byte
	if _, err := r.ReadAt(h[:], off); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	nameLen, extraLen := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
	rest := make([]byte, nameLen+extraLen)
	if _, err := r.ReadAt(rest, off+30); err != nil {
		return nil, err
	}
	return &localHeader{
		flags: le.Uint16(h[6:]), method: le.Uint16(h[8:]),
		crc: le.Uint32(h[14:]), csize: le.Uint32(h[18:]), usize: le.Uint32(h[22:]),
		name: rest[:nameLen], extra: rest[nameLen:],
	}, nil
}

// agrees returns an error naming the first field in which lh and the
// central directory record f disagree.
func (lh *localHeader) agrees(f *zip.File) error {
	const hint = "the archive was altered: its central directory and local file headers must agree; rebuild it with epack build"
	differ := func(format string, args ...any) error {
		return errcode.New(errcode.NotAZip, "entry %q: local file header "+format, append([]any{f.Name}, args...)...).WithHint(hint)
	}
	switch {
	case !bytes.Equal(lh.name, []byte(f.Name)):
		return errcode.New(errcode.NotAZip, "entry %q: the local file header names it %q", f.Name, lh.name).WithHint(hint)
	case lh.flags&(flagEncrypted|flagStrongEncrypted|flagMaskedHeaders) != 0:
		return errcode.New(errcode.NotAZip, "entry %q is encrypted (local file header)", f.Name).
			WithHint("evidence packs cannot be encrypted")
	case lh.method != f.Method:
		return differ("says compression method %d, central directory %d", lh.method, f.Method)
	case lh.flags&flagsThatMatter != f.Flags&flagsThatMatter:
		return differ("has flags %#04x, central directory %#04x", lh.flags&flagsThatMatter, f.Flags&flagsThatMatter)
	}
	if err := checkUnicodePath(f.Name, lh.extra, "local file header"); err != nil {
		return err
	}
	// With a data descriptor the local header may leave CRC-32 and sizes
	// zero; any value it does give must still be the right one.
	streamed := f.Flags&flagDescriptor != 0
	same := func(local, central uint64) bool { return local == central || (streamed && local == 0) }
	if !same(uint64(lh.crc), uint64(f.CRC32)) {
		return differ("says CRC-32 %08x, central directory %08x", lh.crc, f.CRC32)
	}
	// Sizes of 0xFFFFFFFF stand for the ZIP64 extra field, which in a local
	// header holds both sizes, uncompressed first. Some readers take that
	// field whenever it is there, so its values must be right as well.
	const marker = 0xFFFFFFFF
	var z64 []byte
	extraFields(lh.extra, func(tag uint16, body []byte) bool {
		if tag == extraZip64 {
			z64 = body
			return false
		}
		return true
	})
	if (lh.usize == marker || lh.csize == marker) && len(z64) < 16 {
		return differ("gives ZIP64 sizes but no complete ZIP64 extra field")
	}
	type size struct {
		what           string
		local, central uint64
	}
	var sizes []size
	if lh.usize != marker {
		sizes = append(sizes, size{"uncompressed size", uint64(lh.usize), f.UncompressedSize64})
	}
	if lh.csize != marker {
		sizes = append(sizes, size{"compressed size", uint64(lh.csize), f.CompressedSize64})
	}
	if len(z64) >= 16 {
		sizes = append(sizes,
			size{"ZIP64 uncompressed size", binary.LittleEndian.Uint64(z64), f.UncompressedSize64},
			size{"ZIP64 compressed size", binary.LittleEndian.Uint64(z64[8:]), f.CompressedSize64})
	}
	for _, s := range sizes {
		if !same(s.local, s.central) {
			return differ("says %s %d, central directory %d", s.what, s.local, s.central)
		}
	}
	return nil
}

// span is where one entry lies: its local header, the end of its data,
// whether a data descriptor follows, and what the central directory says
// that descriptor must hold.
type span struct {
	name           string
	start, dataEnd int64
	descriptor     bool
	crc            uint32
	csize, usize   uint64
}

// checkLayout refuses bytes that no central directory record accounts for:
// data before the first entry, gaps or overlaps between entries, and bytes
// between the last entry and the central directory. A streaming extractor
// would find a hidden local entry there that verification never saw.
// Archives written by archive/zip, Python's zipfile, zip(1) and the existing
// epack tool are contiguous.
func checkLayout(r io.ReaderAt, size int64, spans []span) error {
	cdStart, err := centralDirectoryStart(r, size)
	if err != nil {
		return err
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	pos := int64(0)
	for i, sp := range spans {
		if sp.start != pos {
			return errcode.New(errcode.NotAZip, "%d bytes at offset %d before entry %q belong to no entry", sp.start-pos, pos, sp.name).
				WithHint("the archive has hidden or overlapping content; rebuild it with epack build")
		}
		next := cdStart
		if i+1 < len(spans) {
			next = spans[i+1].start
		}
		end := sp.dataEnd
		if sp.descriptor {
			end = descriptorEnd(r, sp.dataEnd, next)
			if end == next {
				if err := checkDescriptor(r, sp, end); err != nil {
					return err
				}
			}
		}
		pos = end
	}
	if pos != cdStart {
		return errcode.New(errcode.NotAZip, "%d bytes between the last entry and the central directory belong to no entry", cdStart-pos).
			WithHint("the archive has hidden content; rebuild it with epack build")
	}
	return nil
}

// descriptorEnd returns where the data descriptor that starts at off ends:
// 12 or 20 bytes (32- or 64-bit sizes), 4 more with its optional signature.
// It picks the length that reaches next, the following record; when none
// does, the gap check then reports the stray bytes.
func descriptorEnd(r io.ReaderAt, off, next int64) int64 {
	var sig [4]byte
	lengths := []int64{12, 20}
	if _, err := r.ReadAt(sig[:], off); err == nil && binary.LittleEndian.Uint32(sig[:]) == 0x08074b50 {
		lengths = []int64{16, 24}
	}
	for _, n := range lengths {
		if off+n == next {
			return next
		}
	}
	return off + lengths[0]
}

// checkDescriptor refuses a data descriptor, from sp.dataEnd to end, whose
// CRC-32 or sizes are not those of the central directory: a streaming
// reader checks the data it extracted against the descriptor, not against
// what we verified.
func checkDescriptor(r io.ReaderAt, sp span, end int64) error {
	b := make([]byte, end-sp.dataEnd)
	if _, err := r.ReadAt(b, sp.dataEnd); err != nil {
		return errcode.Wrap(errcode.NotAZip, err, "entry %q: data descriptor cut short", sp.name)
	}
	le := binary.LittleEndian
	if len(b) == 16 || len(b) == 24 {
		b = b[4:] // the signature
	}
	crc := le.Uint32(b)
	var c, u uint64
	if len(b) == 12 {
		c, u = uint64(le.Uint32(b[4:])), uint64(le.Uint32(b[8:]))
	} else {
		c, u = le.Uint64(b[4:]), le.Uint64(b[12:])
	}
	if crc != sp.crc || c != sp.csize || u != sp.usize {
		return errcode.New(errcode.NotAZip, "entry %q: data descriptor says CRC-32 %08x, %d bytes compressed, %d uncompressed; central directory %08x, %d, %d",
			sp.name, crc, c, u, sp.crc, sp.csize, sp.usize).
			WithHint("the archive was altered: its central directory and data descriptors must agree; rebuild it with epack build")
	}
	return nil
}

// centralDirectoryStart reads the end-of-central-directory record (and the
// ZIP64 one) for the offset at which the central directory begins. It finds
// them as archive/zip does, so the layout is checked against the directory
// archive/zip read: the last end record whose comment fits in the file, and
// the ZIP64 record whenever a field of that record is saturated (archive/zip
// takes 0xFFFF for the 32-bit size too) and a valid locator precedes it.
func centralDirectoryStart(r io.ReaderAt, size int64) (int64, error) {
	const eocdLen, maxComment = 22, 65535
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, errcode.Wrap(errcode.IOError, err, "reading the end of the archive")
	}
	bad := errcode.New(errcode.NotAZip, "no valid end of central directory record")
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) != 0x06054b50 {
			continue
		}
		if n := int(binary.LittleEndian.Uint16(buf[i+20:])); n > len(buf)-i-eocdLen {
			continue // a comment longer than the file: not the record archive/zip takes
		} else if n != len(buf)-i-eocdLen {
			return 0, bad // bytes after the record archive/zip takes
		}
		le := binary.LittleEndian
		off := int64(le.Uint32(buf[i+16:]))
		saturated := off == 0xFFFFFFFF
		if !saturated && le.Uint16(buf[i+10:]) != 0xFFFF && le.Uint32(buf[i+12:]) != 0xFFFF {
			return off, nil
		}
		// ZIP64: the locator sits just before the record.
		rec, hasLocator, ok := zip64End(r, size, size-tail+int64(i))
		switch {
		case ok:
			return int64(le.Uint64(rec[48:])), nil
		case hasLocator || saturated:
			return 0, bad
		}
		return off, nil // no ZIP64 locator: archive/zip keeps the 32-bit offset
	}
	return 0, bad
}

// zip64End reads the ZIP64 end record named by the locator just before
// the end record at eocdPos, for centralDirectoryStart and
// precheckEntryCount alike. hasLocator is false when no valid locator
// precedes the end record (archive/zip then keeps its 32-bit fields); ok
// is false when there is none or the record it names cannot be read or is
// not one (archive/zip then refuses the file).
func zip64End(r io.ReaderAt, size, eocdPos int64) (rec [56]byte, hasLocator, ok bool) {
	le := binary.LittleEndian
	var loc [20]byte
	locPos := eocdPos - int64(len(loc))
	if locPos < 0 {
		return rec, false, false
	}
	if _, err := r.ReadAt(loc[:], locPos); err != nil {
		return rec, true, false
	}
	if le.Uint32(loc[:]) != 0x07064b50 || le.Uint32(loc[4:]) != 0 || le.Uint32(loc[16:]) != 1 {
		return rec, false, false
	}
	recPos := int64(le.Uint64(loc[8:]))
	if recPos < 0 || recPos > size-56 {
		return rec, true, false
	}
	if _, err := r.ReadAt(rec[:], recPos); err != nil || le.Uint32(rec[:]) != 0x06064b50 {
		return rec, true, false
	}
	return rec, true, true
}
