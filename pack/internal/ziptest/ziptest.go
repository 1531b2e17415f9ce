package ziptest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// Entry is one archive member. Zero values give a stored regular file whose
// CRC and sizes match Data.
type Entry struct {
	Name    string
	Data    []byte // uncompressed content
	Deflate bool   // compress Data with deflate
	// Raw, when set, is written as the compressed payload as it is.
	Raw []byte
	// Overrides; nil means "computed from Data".
	CRC32            *uint32
	CompressedSize   *uint32
	UncompressedSize *uint32
	Method           *uint16
	// Mode, when non-zero, is a Unix st_mode (for example 0o120777 for a
	// symlink); the entry is then marked as made on Unix.
	Mode  uint32
	DOS   uint32 // MS-DOS attributes (0x10 = directory), creator FAT when Mode is 0
	Flags uint16
	// Creator, when set, is the "version made by" field as it is: the host
	// in the high byte (3 Unix, 5 Atari, 16 BeOS, 19 OS X, …).
	Creator *uint16
	// Extra and LocalExtra are the extra fields of the central directory
	// record and of the local file header (see UnicodePath and Zip64).
	Extra, LocalExtra []byte
	// Local overrides fields of the local file header only, so the two
	// headers can tell different stories.
	Local Local
	// Descriptor, when set, is written right after the payload as the
	// entry's data descriptor (see DataDescriptor); set Flags 0x8 with it.
	Descriptor []byte
}

// Local holds overrides of local file header fields; nil means "as in the
// central directory record".
type Local struct {
	Name                                    *string
	Flags, Method                           *uint16
	CRC32, CompressedSize, UncompressedSize *uint32
}

// UnicodePath returns an Info-ZIP Unicode Path extra field (0x7075) that
// names the entry unicodeName, with the CRC-32 of headerName as unzip
// expects it.
func UnicodePath(headerName, unicodeName string) []byte {
	body := make([]byte, 5, 5+len(unicodeName))
	body[0] = 1
	binary.LittleEndian.PutUint32(body[1:], crc32.ChecksumIEEE([]byte(headerName)))
	return ExtraField(0x7075, append(body, unicodeName...))
}

// Zip64 returns a ZIP64 extra field (0x0001) holding the uncompressed and
// compressed sizes, the form local file headers use.
func Zip64(uncompressed, compressed uint64) []byte {
	body := binary.LittleEndian.AppendUint64(nil, uncompressed)
	return ExtraField(0x0001, binary.LittleEndian.AppendUint64(body, compressed))
}

// ExtraField returns one extra field block: tag, length, body.
func ExtraField(tag uint16, body []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// DataDescriptor returns a data descriptor: with or without its optional
// signature, with 32-bit or (zip64) 64-bit sizes.
func DataDescriptor(signature, zip64 bool, crc uint32, compressed, uncompressed uint64) []byte {
	var b []byte
	le := binary.LittleEndian
	if signature {
		b = le.AppendUint32(b, 0x08074b50)
	}
	b = le.AppendUint32(b, crc)
	if zip64 {
		return le.AppendUint64(le.AppendUint64(b, compressed), uncompressed)
	}
	return le.AppendUint32(le.AppendUint32(b, uint32(compressed)), uint32(uncompressed))
}

// Descriptor32 returns the correct data descriptor (signature, 32-bit
// sizes) of e's payload, for archives that stream their entries.
func (e Entry) Descriptor32() []byte {
	payload := e.payload()
	return DataDescriptor(true, false, crc32.ChecksumIEEE(e.Data), uint64(len(payload)), uint64(len(e.Data)))
}

// payload returns the bytes written as the entry's compressed data.
func (e Entry) payload() []byte {
	if e.Raw != nil {
		return e.Raw
	}
	if !e.Deflate {
		return e.Data
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(e.Data)
	w.Close()
	return b.Bytes()
}

// U32 and U16 return pointers, for the override fields.
func U32(v uint32) *uint32 { return &v }

// U16 returns a pointer to v.
func U16(v uint16) *uint16 { return &v }

// File returns a stored regular file entry.
func File(name string, data []byte) Entry { return Entry{Name: name, Data: data} }

// Dir returns a directory entry.
func Dir(name string) Entry { return Entry{Name: name} }

// Build writes a complete ZIP archive of entries.
func Build(entries ...Entry) []byte {
	var out, cd bytes.Buffer
	le := binary.LittleEndian
	for _, e := range entries {
		method := uint16(0)
		if e.Deflate {
			method = 8
		}
		payload := e.payload()
		if e.Method != nil {
			method = *e.Method
		}
		crc := crc32.ChecksumIEEE(e.Data)
		if e.CRC32 != nil {
			crc = *e.CRC32
		}
		csize, usize := uint32(len(payload)), uint32(len(e.Data))
		if e.CompressedSize != nil {
			csize = *e.CompressedSize
		}
		if e.UncompressedSize != nil {
			usize = *e.UncompressedSize
		}
		creator := uint16(20) // FAT
		ext := e.DOS
		if e.Mode != 0 {
			creator = 3<<8 | 20
			ext = e.Mode<<16 | e.DOS
		}
		if e.Creator != nil {
			creator = *e.Creator
		}
		lname, lflags, lmethod, lcrc, lcsize, lusize := e.Name, e.Flags|0x800, method, crc, csize, usize
		l := e.Local
		if l.Name != nil {
			lname = *l.Name
		}
		if l.Flags != nil {
			lflags = *l.Flags
		}
		if l.Method != nil {
			lmethod = *l.Method
		}
		if l.CRC32 != nil {
			lcrc = *l.CRC32
		}
		if l.CompressedSize != nil {
			lcsize = *l.CompressedSize
		}
		if l.UncompressedSize != nil {
			lusize = *l.UncompressedSize
		}
		offset := uint32(out.Len())
		var h [30]byte
		le.PutUint32(h[0:], 0x04034b50)
		le.PutUint16(h[4:], 20)
		le.PutUint16(h[6:], lflags)
		le.PutUint16(h[8:], lmethod)
		le.PutUint32(h[14:], lcrc)
		le.PutUint32(h[18:], lcsize)
		le.PutUint32(h[22:], lusize)
		le.PutUint16(h[26:], uint16(len(lname)))
		le.PutUint16(h[28:], uint16(len(e.LocalExtra)))
		out.Write(h[:])
		out.WriteString(lname)
		out.Write(e.LocalExtra)
		out.Write(payload)
		out.Write(e.Descriptor)

		var c [46]byte
		le.PutUint32(c[0:], 0x02014b50)
		le.PutUint16(c[4:], creator)
		le.PutUint16(c[6:], 20)
		le.PutUint16(c[8:], e.Flags|0x800)
		le.PutUint16(c[10:], method)
		le.PutUint32(c[16:], crc)
		le.PutUint32(c[20:], csize)
		le.PutUint32(c[24:], usize)
		le.PutUint16(c[28:], uint16(len(e.Name)))
		le.PutUint16(c[30:], uint16(len(e.Extra)))
		le.PutUint32(c[38:], ext)
		le.PutUint32(c[42:], offset)
		cd.Write(c[:])
		cd.WriteString(e.Name)
		cd.Write(e.Extra)
	}
	cdOffset := uint32(out.Len())
	out.Write(cd.Bytes())
	var end [22]byte
	le.PutUint32(end[0:], 0x06054b50)
	le.PutUint16(end[8:], uint16(len(entries)))
	le.PutUint16(end[10:], uint16(len(entries)))
	le.PutUint32(end[12:], uint32(cd.Len()))
	le.PutUint32(end[16:], cdOffset)
	out.Write(end[:])
	return out.Bytes()
}
