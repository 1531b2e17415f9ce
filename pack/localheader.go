package pack

import (
	"archive/zip"
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"slices"

	"github.com/evidencerelay/epack/internal/errcode"
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

// checkLocalHeaders refuses an archive whose local file headers disagree
// with the central directory on an entry's name, compression method or
// encryption flag. archive/zip reads only the central directory, but
// streaming extractors go by the local headers, so such a pack would be
// verified as one thing and unpacked elsewhere as another (for example a
// local name "../../evil.sh"). It uses its own zip.Reader so the recorder
// never sees the Pack's concurrent reads.
func checkLocalHeaders(r io.ReaderAt, size int64) error {
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
		spans = append(spans, span{name: f.Name, start: rec.last, dataEnd: dataOff + int64(f.CompressedSize64), descriptor: f.Flags&0x8 != 0})
		hdr := make([]byte, 30+len(f.Name))
		if _, err := r.ReadAt(hdr, rec.last); err != nil {
			return errcode.New(errcode.NotAZip, "entry %q: local file header cut short", f.Name)
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
		switch {
		case nameLen != len(f.Name) || !bytes.Equal(hdr[30:], []byte(f.Name)):
			n := min(nameLen, len(f.Name))
			return errcode.New(errcode.NotAZip, "entry %q: the local file header names it %q", f.Name, hdr[30:30+n]).
				WithHint("the archive was altered; central directory and local headers must agree")
		case flags&1 != 0:
			return errcode.New(errcode.NotAZip, "entry %q is encrypted (local file header)", f.Name).
				WithHint("evidence packs cannot be encrypted")
		case method != f.Method:
			return errcode.New(errcode.NotAZip, "entry %q: local file header says compression method %d, central directory %d", f.Name, method, f.Method)
		}
	}
	return checkLayout(r, size, spans)
}

// span is where one entry lies: its local header, the end of its data, and
// whether a data descriptor follows.
type span struct {
	name           string
	start, dataEnd int64
	descriptor     bool
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

// centralDirectoryStart reads the end-of-central-directory record (and the
// ZIP64 one when the offset does not fit 32 bits) for the offset at which
// the central directory begins.
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
		if int(binary.LittleEndian.Uint16(buf[i+20:])) != len(buf)-i-eocdLen {
			continue // a signature inside the comment, not the record
		}
		off := int64(binary.LittleEndian.Uint32(buf[i+16:]))
		if off != 0xFFFFFFFF {
			return off, nil
		}
		// ZIP64: the locator sits just before the record.
		locPos := size - tail + int64(i) - 20
		var loc [20]byte
		if locPos < 0 {
			return 0, bad
		}
		if _, err := r.ReadAt(loc[:], locPos); err != nil || binary.LittleEndian.Uint32(loc[:]) != 0x07064b50 {
			return 0, bad
		}
		recPos := int64(binary.LittleEndian.Uint64(loc[8:]))
		var rec [56]byte
		if recPos < 0 || recPos > size-56 {
			return 0, bad
		}
		if _, err := r.ReadAt(rec[:], recPos); err != nil || binary.LittleEndian.Uint32(rec[:]) != 0x06064b50 {
			return 0, bad
		}
		return int64(binary.LittleEndian.Uint64(rec[48:])), nil
	}
	return 0, bad
}
