package pack

import (
	"bytes"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// manifest.json may be exactly MaxManifestSize bytes (COMPAT §1.13); one
// byte more is artifact_too_large. Whitespace pads a valid manifest.
func TestManifestSizeLimit(t *testing.T) {
	m := mustJSON(t, testManifest(sample...))
	padded := func(n int) []byte { return append(bytes.Repeat([]byte(" "), n-len(m)), m...) }
	for _, tc := range []struct {
		name string
		size int
		code errcode.Code
	}{
		{"at the limit", MaxManifestSize, ""},
		{"one byte over", MaxManifestSize + 1, errcode.ArtifactTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBytes(zipPack(t, padded(tc.size), sample))
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
