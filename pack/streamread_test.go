package pack

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// streamEntries reads b front to back the way a streaming extractor (jar x,
// bsdtar from a pipe) does: local file header, data, data descriptor, next
// local header, until something else than a local header comes. It trusts
// only local headers and descriptors and never looks at the central
// directory, so tests can compare its view with what the Pack verified.
// Unicode Path fields rename entries, as in unzip. An error means the
// streaming reader would fail loudly.
func streamEntries(b []byte) (names []string, data map[string][]byte, err error) {
	le := binary.LittleEndian
	data = map[string][]byte{}
	pos := 0
	for pos+30 <= len(b) && le.Uint32(b[pos:]) == 0x04034b50 {
		flags, method := le.Uint16(b[pos+6:]), le.Uint16(b[pos+8:])
		crc, csize, usize := le.Uint32(b[pos+14:]), uint64(le.Uint32(b[pos+18:])), uint64(le.Uint32(b[pos+22:]))
		nameLen, extraLen := int(le.Uint16(b[pos+26:])), int(le.Uint16(b[pos+28:]))
		if pos+30+nameLen+extraLen > len(b) {
			return nil, nil, errors.New("header cut short")
		}
		name := string(b[pos+30 : pos+30+nameLen])
		extra := b[pos+30+nameLen : pos+30+nameLen+extraLen]
		zip64 := false
		extraFields(extra, func(tag uint16, body []byte) bool {
			switch {
			case tag == extraZip64 && len(body) >= 16:
				zip64 = true
				usize, csize = le.Uint64(body), le.Uint64(body[8:])
			case tag == extraUnicodePath && len(body) >= 5:
				name = string(body[5:])
			}
			return true
		})
		pos += 30 + nameLen + extraLen
		var content []byte
		switch {
		case flags&flagEncrypted != 0:
			return nil, nil, errors.New("encrypted")
		case flags&flagDescriptor == 0:
			if csize > uint64(len(b)-pos) {
				return nil, nil, errors.New("data cut short")
			}
			raw := b[pos : pos+int(csize)]
			pos += int(csize)
			if content, err = decompress(method, raw); err != nil {
				return nil, nil, err
			}
		case method == 8:
			br := bytes.NewReader(b[pos:])
			fr := flate.NewReader(br)
			content, err = io.ReadAll(fr)
			if err != nil {
				return nil, nil, err
			}
			csize = uint64(len(b) - pos - br.Len())
			pos += int(csize)
			if pos+4 <= len(b) && le.Uint32(b[pos:]) == 0x08074b50 {
				pos += 4
			}
			n := 12
			if zip64 {
				n = 20
			}
			if pos+n > len(b) {
				return nil, nil, errors.New("descriptor cut short")
			}
			crc = le.Uint32(b[pos:])
			dc, du := uint64(le.Uint32(b[pos+4:])), uint64(le.Uint32(b[pos+8:]))
			if zip64 {
				dc, du = le.Uint64(b[pos+4:]), le.Uint64(b[pos+12:])
			}
			pos += n
			if dc != csize {
				return nil, nil, fmt.Errorf("descriptor says %d compressed bytes, read %d", dc, csize)
			}
			usize = du
		default:
			return nil, nil, errors.New("stored entry with a data descriptor cannot be streamed")
		}
		if uint64(len(content)) != usize || crc32.ChecksumIEEE(content) != crc {
			return nil, nil, fmt.Errorf("entry %q: size or CRC-32 mismatch", name)
		}
		names = append(names, name)
		data[name] = content
	}
	return names, data, nil
}

func decompress(method uint16, raw []byte) ([]byte, error) {
	switch method {
	case 0:
		return raw, nil
	case 8:
		return io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	}
	return nil, fmt.Errorf("method %d", method)
}

// checkStreamView fails when a streaming reader would extract, from a pack
// p accepted and verified, a name p does not hold or an artifact with other
// bytes than the verified ones. A streaming reader that fails is fine.
func checkStreamView(p *Pack, b []byte) error {
	names, data, err := streamEntries(b)
	if err != nil {
		return nil
	}
	held := map[string]bool{}
	for _, f := range p.zr.File {
		held[f.Name] = true
	}
	for _, name := range names {
		if !held[name] {
			return fmt.Errorf("a streaming reader extracts %q, which the pack does not hold", name)
		}
	}
	if got, ok := data["manifest.json"]; ok && !bytes.Equal(got, p.manifestRaw) {
		return fmt.Errorf("a streaming reader extracts another manifest.json")
	}
	for _, a := range p.Artifacts() {
		got, ok := data[a.Path]
		if !ok {
			continue
		}
		want, err := p.ReadArtifact(a.Path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("a streaming reader extracts %q as %q, verified %q", a.Path, got, want)
		}
	}
	return nil
}
