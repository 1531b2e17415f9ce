package pack

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"testing"

	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

func FuzzOpen(f *testing.F) {
	m := mustJSON(f, testManifest(sample...))
	f.Add(zipPack(f, m, sample))
	f.Add(zipPack(f, mustJSON(f, testManifest()), nil))
	f.Add(zipPack(f, m, sample, ziptest.Entry{Name: "artifacts/link", Data: []byte("x"), Mode: 0o120777}))
	f.Add(zipPack(f, m, []art{{"artifacts/a.json", []byte(`{"a":2}`)}, sample[1]}))
	f.Add(ziptest.Build(ziptest.File("manifest.json", m), ziptest.Dir("artifacts/"),
		ziptest.Entry{Name: "artifacts/a.json", Data: []byte(`{"a":1}`), Raw: []byte("xx")}, ziptest.File("artifacts/sub/b.csv", sample[1].data)))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	for _, b := range hostileSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := OpenReaderAt(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer p.Close()
		checkAccepted(t, p, b)
		for _, a := range p.Artifacts() {
			_, _ = p.ReadArtifact(a.Path)
			if rc, err := p.OpenArtifact(a.Path); err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
		for _, a := range p.Attestations() {
			_, _ = p.ReadAttestation(a)
		}
		_ = p.Manifest()
	})
}

// hostileSeeds are packs whose local headers, data descriptors, hosts or
// Unicode Path fields disagree with what the central directory says, next
// to the agreeing forms real writers produce.
func hostileSeeds(t testing.TB) [][]byte {
	data := sample[0].data
	crc := crc32.ChecksumIEEE(data)
	n := uint64(len(data))
	stream := func(e *ziptest.Entry) {
		e.Flags = 0x8
		e.Local = ziptest.Local{CRC32: ziptest.U32(0), CompressedSize: ziptest.U32(0), UncompressedSize: ziptest.U32(0)}
		e.Descriptor = ziptest.DataDescriptor(true, false, crc, n, n)
	}
	mods := []func(e *ziptest.Entry){
		func(e *ziptest.Entry) { e.Mode, e.Creator = 0o120777, ziptest.U16(16<<8|20) },     // BeOS symlink
		func(e *ziptest.Entry) { e.Mode, e.Creator, e.DOS = 0o010644, ziptest.U16(20), 1 }, // FAT FIFO
		func(e *ziptest.Entry) { e.Mode, e.Creator = 0o100644, ziptest.U16(5<<8|20) },      // Atari regular file
		func(e *ziptest.Entry) { e.Extra = ziptest.UnicodePath(e.Name, "manifest.json") },
		func(e *ziptest.Entry) { e.LocalExtra = ziptest.UnicodePath(e.Name, "../evil.sh") },
		func(e *ziptest.Entry) {
			e.Extra, e.LocalExtra = ziptest.UnicodePath(e.Name, e.Name), ziptest.UnicodePath(e.Name, e.Name)
		},
		func(e *ziptest.Entry) {
			e.Local = ziptest.Local{CompressedSize: ziptest.U32(2), UncompressedSize: ziptest.U32(2), CRC32: ziptest.U32(crc32.ChecksumIEEE(data[:2]))}
		},
		func(e *ziptest.Entry) { e.Local.Flags = ziptest.U16(0x808) },
		stream,
		func(e *ziptest.Entry) { stream(e); e.Descriptor = ziptest.DataDescriptor(false, true, crc, n, n) },
		func(e *ziptest.Entry) { stream(e); e.Descriptor = ziptest.DataDescriptor(true, false, crc, n, 2) },
		func(e *ziptest.Entry) { e.Deflate = true; stream(e); e.Descriptor = e.Descriptor32() },
		func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(n, n)
		},
		func(e *ziptest.Entry) {
			e.Local.CompressedSize, e.Local.UncompressedSize = ziptest.U32(0xFFFFFFFF), ziptest.U32(0xFFFFFFFF)
			e.LocalExtra = ziptest.Zip64(n, 2)
		},
	}
	var seeds [][]byte
	for _, mod := range mods {
		seeds = append(seeds, packWith(t, mod))
	}
	return seeds
}

// checkAccepted holds what every accepted pack must satisfy: it verifies or
// fails cleanly, its entries are regular files or directories whatever host
// made them, no Unicode Path field renames one, and a streaming reader
// extracts nothing but the verified names and bytes.
func checkAccepted(t *testing.T, p *Pack, b []byte) {
	t.Helper()
	if p.VerifyIntegrity(context.Background()) != nil {
		return
	}
	for _, f := range p.zr.File {
		if ty := (f.ExternalAttrs >> 16) & sIFMT; ty != 0 && ty != sIFREG && ty != sIFDIR {
			t.Fatalf("entry %q of Unix type %#o accepted", f.Name, ty)
		}
		extraFields(f.Extra, func(tag uint16, body []byte) bool {
			if tag == extraUnicodePath && string(body[min(5, len(body)):]) != f.Name {
				t.Fatalf("entry %q renamed by a Unicode Path field to %q", f.Name, body)
			}
			return true
		})
	}
	if err := checkStreamView(p, b); err != nil {
		t.Fatal(err)
	}
}

// FuzzLocalHeader keeps the central directory of a valid pack and fuzzes
// what the local file header, data descriptor, host and extra fields of one
// artifact say. Whatever it accepts, a streaming reader must see as verified.
func FuzzLocalHeader(f *testing.F) {
	data := sample[0].data
	crc := crc32.ChecksumIEEE(data)
	n := uint32(len(data))
	dd := ziptest.DataDescriptor(true, false, crc, uint64(n), uint64(n))
	f.Add(false, uint16(0x800), uint16(0), crc, n, n, []byte(nil), []byte(nil), []byte(nil), uint16(3<<8|20), uint32(0o100644))
	f.Add(false, uint16(0x808), uint16(0), uint32(0), uint32(0), uint32(0), []byte(nil), dd, []byte(nil), uint16(20), uint32(0))
	f.Add(true, uint16(0x808), uint16(8), uint32(0), uint32(0), uint32(0), []byte(nil), []byte("desc"), []byte(nil), uint16(20), uint32(0))
	f.Add(false, uint16(0x800), uint16(0), crc, uint32(0xFFFFFFFF), uint32(0xFFFFFFFF), ziptest.Zip64(uint64(n), uint64(n)), []byte(nil), []byte(nil), uint16(20), uint32(0))
	f.Add(false, uint16(0x800), uint16(0), crc32.ChecksumIEEE(data[:2]), uint32(2), uint32(2), []byte(nil), []byte(nil), []byte(nil), uint16(20), uint32(0))
	f.Add(false, uint16(0x800), uint16(0), crc, n, n, ziptest.UnicodePath(sample[0].path, "manifest.json"), []byte(nil), ziptest.UnicodePath(sample[0].path, sample[0].path), uint16(16<<8|20), uint32(0o120777))
	f.Fuzz(func(t *testing.T, deflate bool, flags, method uint16, crc, csize, usize uint32, localExtra, descriptor, extra []byte, creator uint16, mode uint32) {
		if len(localExtra) > 0xFFFF || len(extra) > 0xFFFF {
			return
		}
		var want ziptest.Entry
		b := packWith(t, func(e *ziptest.Entry) {
			e.Deflate = deflate
			e.Flags = flags & flagDescriptor
			e.Local = ziptest.Local{Flags: &flags, Method: &method, CRC32: &crc, CompressedSize: &csize, UncompressedSize: &usize}
			e.LocalExtra, e.Extra, e.Descriptor = localExtra, extra, descriptor
			e.Creator, e.Mode = &creator, mode
			want = *e
		})
		p, err := openBytes(b)
		if err != nil {
			return
		}
		defer p.Close()
		wantMethod := uint16(0)
		if want.Deflate {
			wantMethod = 8
		}
		if method != wantMethod || flags&flagsThatMatter != (want.Flags|0x800)&flagsThatMatter {
			t.Fatalf("local method %d flags %#x accepted against %d %#x", method, flags, wantMethod, want.Flags|0x800)
		}
		checkAccepted(t, p, b)
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add(mustJSON(f, testManifest(sample...)))
	f.Add([]byte(man("", artJSON("artifacts/a.json", "1.5e3"))))
	f.Add([]byte(man(`,"provenance":{"type":"merged","merged_at":"2026-01-22T14:00:00Z","source_packs":[{"stream":"x","pack_digest":"`+d1+`","artifacts":1,"embedded_attestations":[{"mediaType":"`+SigstoreBundleMediaType+`","verificationMaterial":{},"dsseEnvelope":{}}]}]}`, "")))
	f.Add([]byte(`{"spec_version":"1.0","controls":["A","B","C","B"],"stream":"stream"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest fails Validate: %v", err)
		}
		c := m.Clone()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		_ = ComputePackDigest(m.Artifacts)
	})
}

// FuzzOpenManifest keeps the ZIP well formed and fuzzes manifest.json and
// one entry name, so the fuzzer reaches decoding and the cross-checks.
func FuzzOpenManifest(f *testing.F) {
	f.Add(mustJSON(f, testManifest(sample...)), "artifacts/sub/b.csv")
	f.Add(mustJSON(f, testManifest(sample[0])), "artifacts/extra")
	f.Add([]byte(man("", artJSON("artifacts/a.json", "7"))), "attestations/x.sigstore.json")
	f.Fuzz(func(t *testing.T, manifest []byte, name string) {
		b := ziptest.Build(ziptest.File("manifest.json", manifest), ziptest.Dir("artifacts/"),
			ziptest.File("artifacts/a.json", sample[0].data), ziptest.File(name, sample[1].data))
		p, err := OpenReaderAt(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		_ = p.VerifyIntegrity(context.Background())
		if len(p.ManifestDigest()) != 71 {
			t.Fatal("manifest digest", p.ManifestDigest())
		}
	})
}
