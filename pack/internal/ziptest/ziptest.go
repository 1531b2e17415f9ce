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
		payload := e.Data
		if e.Deflate {
			method = 8
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, flate.BestCompression)
			w.Write(e.Data)
			w.Close()
			payload = b.Bytes()
		}
		if e.Raw != nil {
			payload = e.Raw
		}
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
		offset := uint32(out.Len())
		var h [30]byte
		le.PutUint32(h[0:], 0x04034b50)
		le.PutUint16(h[4:], 20)
		le.PutUint16(h[6:], e.Flags|0x800)
		le.PutUint16(h[8:], method)
		le.PutUint32(h[14:], crc)
		le.PutUint32(h[18:], csize)
		le.PutUint32(h[22:], usize)
		le.PutUint16(h[26:], uint16(len(e.Name)))
		out.Write(h[:])
		out.WriteString(e.Name)
		out.Write(payload)

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
		le.PutUint32(c[38:], ext)
		le.PutUint32(c[42:], offset)
		cd.Write(c[:])
		cd.WriteString(e.Name)
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
