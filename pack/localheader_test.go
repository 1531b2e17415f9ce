package pack_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"
	"github.com/evidencerelay/epack/pack"
)

// validPackBytes builds a small valid pack with archive/zip.
func validPackBytes(t *testing.T) []byte {
	t.Helper()
	data := []byte(`{"a":1}`)
	sum := sha256.Sum256(data)
	art := pack.Artifact{Type: "embedded", Path: "artifacts/a.json", Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	m, err := json.Marshal(map[string]any{
		"spec_version": "1.0", "stream": "acme/prod", "generated_at": "2026-11-30T02:21:16Z",
		"pack_digest": pack.ComputePackDigest([]pack.Artifact{art}), "sources": []any{},
		"artifacts": []any{map[string]any{"type": art.Type, "path": art.Path, "digest": art.Digest, "size": art.Size}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"manifest.json", m}, {art.Path, data}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// localHeader returns the offset of the local file header naming name.
func localHeader(t *testing.T, b []byte, name string) int {
	t.Helper()
	for i := 0; i+30 <= len(b); i++ {
		if binary.LittleEndian.Uint32(b[i:]) == 0x04034b50 {
			n := int(binary.LittleEndian.Uint16(b[i+26:]))
			if i+30+n <= len(b) && string(b[i+30:i+30+n]) == name {
				return i
			}
		}
	}
	t.Fatalf("no local header for %q", name)
	return 0
}

// The central directory and the local file headers must tell the same
// story: streaming extractors (and Python's zipfile) go by the local header,
// so a pack whose local header says "../../../evil.sh" while the central
// directory says "artifacts/a.json" verified cleanly and then extracted
// outside the target folder elsewhere.
func TestLocalHeaderMustMatchCentralDirectory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch func(b []byte, off int)
		ok    bool
	}{
		{"untouched", func([]byte, int) {}, true},
		{"traversal name of the same length", func(b []byte, off int) { copy(b[off+30:], "../../../evil.sh") }, false},
		{"other name of the same length", func(b []byte, off int) { copy(b[off+30:], "artifacts/b.json") }, false},
		{"shorter local name", func(b []byte, off int) {
			binary.LittleEndian.PutUint16(b[off+26:], 15)
			binary.LittleEndian.PutUint16(b[off+28:], binary.LittleEndian.Uint16(b[off+28:])+1)
		}, false},
		{"local encryption flag", func(b []byte, off int) { b[off+6] |= 1 }, false},
		{"local method deflate", func(b []byte, off int) { binary.LittleEndian.PutUint16(b[off+8:], zip.Deflate) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := validPackBytes(t)
			tc.patch(b, localHeader(t, b, "artifacts/a.json"))
			p, err := pack.OpenReaderAt(bytes.NewReader(b), int64(len(b)))
			if tc.ok {
				if err != nil {
					t.Fatalf("valid pack refused: %v", err)
				}
				if err := p.VerifyIntegrity(t.Context()); err != nil {
					t.Fatalf("valid pack does not verify: %v", err)
				}
				return
			}
			if err == nil {
				err = p.VerifyIntegrity(t.Context())
			}
			if err == nil {
				t.Fatal("pack accepted although its local file header disagrees with the central directory")
			}
			if exitstatus.Of(err) != exitstatus.BadInput {
				t.Fatalf("error %v has exit %d, want %d", err, exitstatus.Of(err), exitstatus.BadInput)
			}
		})
	}
}

// insertAt returns zip bytes with extra inserted at offset at, with every
// central-directory offset behind it moved so archive/zip still reads the
// archive: the inserted bytes belong to no entry.
func insertAt(t *testing.T, b []byte, at int, extra []byte) []byte {
	t.Helper()
	eocd := bytes.LastIndex(b, []byte{0x50, 0x4b, 0x05, 0x06})
	cdOff := int(binary.LittleEndian.Uint32(b[eocd+16:]))
	out := append(append(append([]byte(nil), b[:at]...), extra...), b[at:]...)
	shift := func(pos int) int { // position in out of original offset pos
		if pos >= at {
			return pos + len(extra)
		}
		return pos
	}
	newEOCD, newCD := shift(eocd), shift(cdOff)
	binary.LittleEndian.PutUint32(out[newEOCD+16:], uint32(newCD))
	for p := newCD; p < newEOCD; {
		if binary.LittleEndian.Uint32(out[p:]) != 0x02014b50 {
			t.Fatalf("central record expected at %d", p)
		}
		local := int(binary.LittleEndian.Uint32(out[p+42:]))
		binary.LittleEndian.PutUint32(out[p+42:], uint32(shift(local)))
		n := int(binary.LittleEndian.Uint16(out[p+28:]))
		m := int(binary.LittleEndian.Uint16(out[p+30:]))
		k := int(binary.LittleEndian.Uint16(out[p+32:]))
		p += 46 + n + m + k
	}
	return out
}

// Bytes that no central record accounts for could hold a hidden local entry
// that a streaming extractor would unpack although verification never saw
// it: a prefix, a gap between entries, or bytes before the central directory.
func TestHiddenBytesRefused(t *testing.T) {
	valid := validPackBytes(t)
	if _, err := pack.OpenReaderAt(bytes.NewReader(valid), int64(len(valid))); err != nil {
		t.Fatalf("valid pack: %v", err)
	}
	// A complete local entry for a file the manifest does not know.
	var hidden bytes.Buffer
	zw := zip.NewWriter(&hidden)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "evil.sh", Method: zip.Store})
	w.Write([]byte("#!/bin/sh\necho pwned\n"))
	zw.Flush()
	localOnly := hidden.Bytes()[:bytes.Index(hidden.Bytes(), []byte{0x50, 0x4b, 0x07, 0x08})+16]
	eocd := bytes.LastIndex(valid, []byte{0x50, 0x4b, 0x05, 0x06})
	cdOff := int(binary.LittleEndian.Uint32(valid[eocd+16:]))
	cases := map[string][]byte{
		"prefix":                 insertAt(t, valid, 0, []byte("MZ not a pack header")),
		"hidden entry between":   insertAt(t, valid, localHeader(t, valid, "artifacts/a.json"), localOnly),
		"hidden entry before CD": insertAt(t, valid, cdOff, localOnly),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil || len(zr.File) != 2 {
				t.Fatalf("test archive unreadable by archive/zip: %v", err)
			}
			_, err := pack.OpenReaderAt(bytes.NewReader(b), int64(len(b)))
			if errcode.Of(err) != errcode.NotAZip || !strings.Contains(err.Error(), "belong to no entry") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
