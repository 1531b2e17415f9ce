package pack

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"

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
	for _, f := range zr.File {
		rec.last = -1
		if _, err := f.DataOffset(); err != nil || rec.last < 0 {
			return errcode.New(errcode.NotAZip, "entry %q: no valid local file header", f.Name)
		}
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
	return nil
}
