package pack

import (
	"context"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// packWith returns a valid two-artifact pack in which mod has changed the
// entry of artifacts/a.json (stored unless mod says otherwise).
func packWith(t testing.TB, mod func(e *ziptest.Entry)) []byte {
	t.Helper()
	a := ziptest.File(sample[0].path, sample[0].data)
	if mod != nil {
		mod(&a)
	}
	return ziptest.Build(ziptest.File("manifest.json", mustJSON(t, testManifest(sample...))), ziptest.Dir("artifacts/"),
		a, ziptest.File(sample[1].path, sample[1].data))
}

// openAndVerify opens b and verifies every artifact.
func openAndVerify(b []byte) error {
	p, err := openBytes(b)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.VerifyIntegrity(context.Background())
}

// Info-ZIP's unzip reads the upper half of the external attributes as Unix
// st_mode not only for Unix and OS X but for many other "version made by"
// hosts (VMS, Atari, Acorn, BeOS, Tandem, QDOS, AtheOS, and FAT when the
// owner bits agree with the DOS bits), so an entry marked as made on BeOS
// with a symlink mode passed verify and then became a symlink on disk.
func TestSpecialFileTypesRefusedOnEveryHost(t *testing.T) {
	hosts := []struct {
		name string
		id   uint16
	}{
		{"FAT", 0}, {"Amiga", 1}, {"VMS", 2}, {"Unix", 3}, {"Atari", 5}, {"HPFS", 6}, {"NTFS", 11},
		{"QDOS", 12}, {"Acorn", 13}, {"VFAT", 14}, {"BeOS", 16}, {"Tandem", 17}, {"Theos", 18},
		{"OS X", 19}, {"AtheOS", 30}, {"unknown", 99},
	}
	types := []struct {
		name string
		mode uint32
		ok   bool
	}{
		{"regular file", 0o100644, true},
		{"permissions only", 0o000644, true},
		{"symlink", 0o120777, false},
		{"char device", 0o020666, false},
		{"block device", 0o060660, false},
		{"fifo", 0o010644, false},
		{"socket", 0o140755, false},
		{"directory without slash", 0o040755, false},
		{"unknown type 0o16", 0o160644, false},
	}
	for _, h := range hosts {
		for _, ty := range types {
			t.Run(h.name+"/"+ty.name, func(t *testing.T) {
				b := packWith(t, func(e *ziptest.Entry) {
					e.Mode = ty.mode
					e.DOS = 0x01 // read-only, so unzip keeps the Unix bits of FAT entries too
					e.Creator = ziptest.U16(h.id<<8 | 20)
				})
				err := openAndVerify(b)
				if ty.ok {
					if err != nil {
						t.Fatalf("regular file refused: %v", err)
					}
					return
				}
				wantCode(t, err, errcode.InvalidPath)
			})
		}
	}
}

// A directory entry keeps being accepted when any host records it as one.
func TestDirectoryModeOnEveryHost(t *testing.T) {
	for _, host := range []uint16{0, 3, 5, 16, 19} {
		dir := ziptest.Entry{Name: "artifacts/", Mode: 0o040755, DOS: 0x10, Creator: ziptest.U16(host<<8 | 20)}
		b := ziptest.Build(ziptest.File("manifest.json", mustJSON(t, testManifest(sample...))), dir,
			ziptest.File(sample[0].path, sample[0].data), ziptest.File(sample[1].path, sample[1].data))
		if err := openAndVerify(b); err != nil {
			t.Errorf("host %d: directory refused: %v", host, err)
		}
	}
}

// An Info-ZIP Unicode Path extra field (0x7075) makes unzip, 7-Zip and
// others extract the entry under the name it holds, so a pack verified as
// artifacts/a.json could write manifest.json or ../x instead. One naming
// exactly the entry's own name is what zip(1) writes for non-ASCII names.
func TestUnicodePathExtraField(t *testing.T) {
	name := sample[0].path
	for _, tc := range []struct {
		name         string
		extra, local []byte
		ok           bool
	}{
		{"none", nil, nil, true},
		{"same name (central)", ziptest.UnicodePath(name, name), nil, true},
		{"same name (both)", ziptest.UnicodePath(name, name), ziptest.UnicodePath(name, name), true},
		{"unicode comment is harmless", ziptest.ExtraField(0x6375, []byte("\x01\x00\x00\x00\x00hi")), nil, true},
		{"other fields around it", append(ziptest.ExtraField(0x5455, []byte{0}), ziptest.UnicodePath(name, name)...), nil, true},
		{"manifest.json (central)", ziptest.UnicodePath(name, "manifest.json"), nil, false},
		{"traversal (central)", ziptest.UnicodePath(name, "../../evil.sh"), nil, false},
		{"other artifact (local)", nil, ziptest.UnicodePath(name, "artifacts/b.json"), false},
		{"manifest.json (local)", nil, ziptest.UnicodePath(name, "manifest.json"), false},
		{"after another field (central)", append(ziptest.ExtraField(0x5455, []byte{0}), ziptest.UnicodePath(name, "x")...), nil, false},
		{"stale CRC, other name", ziptest.ExtraField(0x7075, append([]byte{1, 0, 0, 0, 0}, "manifest.json"...)), nil, false},
		{"empty name", ziptest.UnicodePath(name, ""), nil, false},
		{"decomposed form of the name", ziptest.UnicodePath(name, "artifacts/a.json\u0301"), nil, false},
		{"malformed (too short)", ziptest.ExtraField(0x7075, []byte{1, 2}), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packWith(t, func(e *ziptest.Entry) { e.Extra, e.LocalExtra = tc.extra, tc.local })
			err := openAndVerify(b)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, errcode.InvalidPath)
		})
	}
}

// A non-ASCII name as zip(1) writes it: no UTF-8 flag is needed for us, and
// the Unicode Path field repeats the name. It must keep opening.
func TestUnicodePathSameNonASCIIName(t *testing.T) {
	arts := []art{{"artifacts/café.json", []byte(`{"c":1}`)}}
	e := ziptest.File(arts[0].path, arts[0].data)
	e.Extra = ziptest.UnicodePath(arts[0].path, arts[0].path)
	e.LocalExtra = e.Extra
	b := ziptest.Build(ziptest.File("manifest.json", mustJSON(t, testManifest(arts...))), ziptest.Dir("artifacts/"), e)
	if err := openAndVerify(b); err != nil {
		t.Fatal(err)
	}
}

// Streaming extractors (jar x, bsdtar, unzip -) go by the local file header
// and the data descriptor, not the central directory we verify. Where they
// disagree on method, the flags that change how bytes are read or named,
// CRC-32 or sizes, such a reader extracts content nobody verified.
func TestLocalHeaderAndDescriptorAgreeWithCentralDirectory(t *testing.T) {
	data := sample[0].data
	crc := crc32.ChecksumIEEE(data)
	n := uint64(len(data))
	stream := func(desc []byte) func(e *ziptest.Entry) {
		return func(e *ziptest.Entry) {
			e.Flags = 0x8
			e.Local = ziptest.Local{CRC32: ziptest.U32(0), CompressedSize: ziptest.U32(0), UncompressedSize: ziptest.U32(0)}
			e.Descriptor = desc
		}
	}
	streamDeflate := func(e *ziptest.Entry) {
		e.Deflate = true
		e.Flags = 0x8
		e.Local = ziptest.Local{CRC32: ziptest.U32(0), CompressedSize: ziptest.U32(0), UncompressedSize: ziptest.U32(0)}
		e.Descriptor = e.Descriptor32()
	}
	for _, tc := range []struct {
		name string
		mod  func(e *ziptest.Entry)
		ok   bool
	}{
		{"agree", nil, true},
		{"agree, deflated", func(e *ziptest.Entry) { e.Deflate = true }, true},
		{"local CRC-32", func(e *ziptest.Entry) { e.Local.CRC32 = ziptest.U32(crc ^ 1) }, false},
		{"local compressed size", func(e *ziptest.Entry) { e.Local.CompressedSize = ziptest.U32(3) }, false},
		{"local uncompressed size", func(e *ziptest.Entry) { e.Local.UncompressedSize = ziptest.U32(3) }, false},
		{"local sizes both shorter, deflated", func(e *ziptest.Entry) {
			e.Deflate = true
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(2), ziptest.U32(2)
		}, false},
		{"local UTF-8 flag off", func(e *ziptest.Entry) { e.Local.Flags = ziptest.U16(0) }, false},
		{"local data descriptor flag only", func(e *ziptest.Entry) { e.Local.Flags = ziptest.U16(0x808) }, false},
		{"central data descriptor flag only", func(e *ziptest.Entry) {
			e.Flags = 0x8
			e.Local.Flags = ziptest.U16(0x800)
			e.Descriptor = e.Descriptor32()
		}, false},
		{"local deflate option bits are hints", func(e *ziptest.Entry) { e.Local.Flags = ziptest.U16(0x806) }, true},
		{"local ZIP64 sizes agree", func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(n, n)
		}, true},
		{"local ZIP64 uncompressed size", func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(n+1, n)
		}, false},
		{"local ZIP64 compressed size", func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(n, 3)
		}, false},
		{"local ZIP64 marker without the field", func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
		}, false},
		{"descriptor with signature", stream(ziptest.DataDescriptor(true, false, crc, n, n)), true},
		{"descriptor without signature", stream(ziptest.DataDescriptor(false, false, crc, n, n)), true},
		{"descriptor zip64 with signature", stream(ziptest.DataDescriptor(true, true, crc, n, n)), true},
		{"descriptor zip64 without signature", stream(ziptest.DataDescriptor(false, true, crc, n, n)), true},
		{"descriptor, deflated", streamDeflate, true},
		{"descriptor, local header repeats the values", func(e *ziptest.Entry) {
			e.Flags = 0x8
			e.Descriptor = e.Descriptor32()
		}, true},
		{"descriptor, local ZIP64 zeros", func(e *ziptest.Entry) {
			stream(ziptest.DataDescriptor(true, true, crc, n, n))(e)
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(0, 0)
		}, true},
		{"descriptor CRC-32", stream(ziptest.DataDescriptor(true, false, crc^1, n, n)), false},
		{"descriptor compressed size", stream(ziptest.DataDescriptor(true, false, crc, 3, n)), false},
		{"descriptor uncompressed size", stream(ziptest.DataDescriptor(true, false, crc, n, 3)), false},
		{"descriptor zip64 uncompressed size", stream(ziptest.DataDescriptor(false, true, crc, n, n+1<<32)), false},
		{"descriptor, local CRC-32 not zero and wrong", func(e *ziptest.Entry) {
			stream(ziptest.DataDescriptor(true, false, crc, n, n))(e)
			e.Local.CRC32 = ziptest.U32(crc ^ 1)
		}, false},
		{"descriptor, local size not zero and wrong", func(e *ziptest.Entry) {
			stream(ziptest.DataDescriptor(true, false, crc, n, n))(e)
			e.Local.UncompressedSize = ziptest.U32(2)
		}, false},
		{"descriptor, local ZIP64 size wrong", func(e *ziptest.Entry) {
			stream(ziptest.DataDescriptor(true, true, crc, n, n))(e)
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(2, 0)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openAndVerify(packWith(t, tc.mod))
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, errcode.NotAZip)
			if !strings.Contains(err.Error(), "local file header") && !strings.Contains(err.Error(), "data descriptor") {
				t.Fatalf("error does not say which header disagrees: %v", err)
			}
		})
	}
}
