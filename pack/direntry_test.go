package pack

import (
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// Directory entries are never read, so nothing verifies what they carry:
// COMPAT §1.9 step 3 allows a name ending in '/' only as an empty folder,
// with no other file type, and its name must pass the path rules (1.8).
// A name that is both a folder and a file cannot be extracted as verified:
// one of the two is lost (or, differing only in case, merged into the
// other on Windows and macOS).
func TestHostileDirectoryEntries(t *testing.T) {
	good := mustJSON(t, testManifest(sample...))
	plus := func(extra ...ziptest.Entry) []byte { return zipPack(t, good, sample, extra...) }
	nested := append(append([]art{}, sample...), art{"artifacts/a.json/x", []byte("x")})
	nestedCase := append(append([]art{}, sample...), art{"artifacts/A.JSON/x", []byte("x")})
	fat := ziptest.U16(0<<8 | 20)
	for _, tc := range []struct {
		name string
		zip  []byte
		code errcode.Code // "" = opens and verifies
	}{
		{"empty folder", plus(ziptest.Dir("artifacts/new/")), ""},
		{"folder of existing files", plus(ziptest.Dir("artifacts/sub/")), ""},
		{"folder with Unix directory mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o040755}), ""},
		{"folder with DOS directory bit", plus(ziptest.Entry{Name: "artifacts/d/", DOS: 0x10}), ""},
		{"attestations folder", plus(ziptest.Dir("attestations/")), ""},

		// Data, sizes.
		{"folder with data", plus(ziptest.Entry{Name: "artifacts/d/", Data: []byte("hidden")}), errcode.InvalidPath},
		{"folder with deflated data", plus(ziptest.Entry{Name: "artifacts/d/", Data: []byte("hidden hidden"), Deflate: true}), errcode.InvalidPath},
		{"folder declaring an uncompressed size", plus(ziptest.Entry{Name: "artifacts/d/", UncompressedSize: ziptest.U32(1)}), errcode.InvalidPath},
		{"folder declaring a compressed size", plus(ziptest.Entry{Name: "artifacts/d/", Raw: []byte("abc"), UncompressedSize: ziptest.U32(0)}), errcode.InvalidPath},
		{"folder over the ratio limit", plus(ziptest.Entry{Name: "artifacts/d/", Raw: []byte("a"), UncompressedSize: ziptest.U32(1000)}), errcode.InvalidPath},

		// File types.
		{"folder with symlink mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o120777}), errcode.InvalidPath},
		{"folder with symlink mode and DOS directory bit", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o120777, DOS: 0x10, Creator: fat}), errcode.InvalidPath},
		{"symlink mode with DOS directory bit, no slash", plus(ziptest.Entry{Name: "artifacts/d", Mode: 0o120777, DOS: 0x10, Creator: fat}), errcode.InvalidPath},
		{"folder with regular file mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o100644}), errcode.InvalidPath},
		{"folder with device mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o020666}), errcode.InvalidPath},
		{"folder with fifo mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o010644}), errcode.InvalidPath},
		{"folder with socket mode", plus(ziptest.Entry{Name: "artifacts/d/", Mode: 0o140755}), errcode.InvalidPath},

		// Names (COMPAT §1.8 applies to the folder name without its '/').
		{"artifacts/../", plus(ziptest.Dir("artifacts/../")), errcode.InvalidPath},
		{"artifacts/./", plus(ziptest.Dir("artifacts/./")), errcode.InvalidPath},
		{"../", plus(ziptest.Dir("../")), errcode.InvalidPath},
		{"artifacts/..hidden/", plus(ziptest.Dir("artifacts/..hidden/")), errcode.InvalidPath},
		{"absolute", plus(ziptest.Dir("/artifacts/")), errcode.InvalidPath},
		{"double slash", plus(ziptest.Dir("artifacts//")), errcode.InvalidPath},
		{"empty segment inside", plus(ziptest.Dir("artifacts//d/")), errcode.InvalidPath},
		{"backslash", plus(ziptest.Dir(`artifacts\d/`)), errcode.InvalidPath},
		{"drive letter", plus(ziptest.Dir("C:/")), errcode.InvalidPath},
		{"reserved device name", plus(ziptest.Dir("artifacts/aux/")), errcode.InvalidPath},
		{"trailing dot", plus(ziptest.Dir("artifacts/d./")), errcode.InvalidPath},
		{"control character", plus(ziptest.Dir("artifacts/d\x01/")), errcode.InvalidPath},
		{"decomposed (NFD) name", plus(ziptest.Dir("artifacts/cafe\u0301/")), errcode.InvalidPath},
		{"__MACOSX folder", plus(ziptest.Dir("__MACOSX/")), errcode.InvalidPath},
		{"AppleDouble folder", plus(ziptest.Dir("artifacts/._d/")), errcode.InvalidPath},
		{"folder outside the layout", plus(ziptest.Dir("other/")), errcode.InvalidPath},
		{"folder named manifest.json", plus(ziptest.Dir("manifest.json/")), errcode.InvalidPath},

		// A folder and a file of one name.
		{"folder named like a listed artifact", plus(ziptest.Dir("artifacts/a.json/")), errcode.DuplicatePath},
		{"folder named like a listed artifact, other case", plus(ziptest.Dir("artifacts/A.JSON/")), errcode.DuplicatePath},
		{"folder before the file of its name", ziptest.Build(ziptest.File("manifest.json", good), ziptest.Dir("artifacts/"),
			ziptest.Dir("artifacts/a.json/"), ziptest.File(sample[0].path, sample[0].data), ziptest.File(sample[1].path, sample[1].data)), errcode.DuplicatePath},
		{"file below a listed artifact", zipPack(t, mustJSON(t, testManifest(nested...)), nested), errcode.DuplicatePath},
		{"file below a listed artifact, other case", zipPack(t, mustJSON(t, testManifest(nestedCase...)), nestedCase), errcode.DuplicatePath},
		{"folder named like an attestation", plus(ziptest.File("attestations/k.sigstore.json", []byte("{}")), ziptest.Dir("attestations/k.sigstore.json/")), errcode.DuplicatePath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openAndVerify(tc.zip)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}
