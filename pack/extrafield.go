package pack

import (
	"bytes"
	"encoding/binary"

	"github.com/evidencerelay/epack/errcode"
)

// Extra field tags this package reads.
const (
	extraZip64       = 0x0001
	extraUnicodePath = 0x7075 // Info-ZIP Unicode Path
)

// extraFields calls fn with the tag and body of each well-formed extra
// field block in extra, in order, until fn returns false. A trailing block
// cut short is ignored, as extractors ignore it (zipalign's padding is one).
func extraFields(extra []byte, fn func(tag uint16, body []byte) bool) {
	for len(extra) >= 4 {
		tag := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return
		}
		if !fn(tag, extra[4:4+n]) {
			return
		}
		extra = extra[4+n:]
	}
}

// checkUnicodePath refuses an Info-ZIP Unicode Path extra field that names
// the entry other than name. unzip, 7-Zip, libarchive and others extract
// under the name in that field instead of the header's, so a pack verified
// as artifacts/a.json could write manifest.json or ../x. The field's CRC-32
// of the header name is not trusted to disarm it: not every extractor checks
// it. One that repeats the name byte for byte (zip(1) writes that for
// non-ASCII names) is harmless. where names the header, for the message.
func checkUnicodePath(name string, extra []byte, where string) error {
	var err error
	extraFields(extra, func(tag uint16, body []byte) bool {
		if tag != extraUnicodePath {
			return true
		}
		switch {
		case len(body) < 5:
			err = errcode.New(errcode.InvalidPath, "entry %q: malformed Unicode Path extra field in the %s", name, where)
		case !bytes.Equal(body[5:], []byte(name)):
			err = errcode.New(errcode.InvalidPath, "entry %q: a Unicode Path extra field in the %s renames it %q", name, where, body[5:]).
				WithHint("other unzip tools would extract it under that name; rebuild the pack with epack build")
		}
		return err == nil
	})
	return err
}
