package pack

import (
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// Every Unicode Path field of an entry is judged, wherever it sits among the
// extra fields; an empty one is malformed; a trailing block cut short is
// ignored (as archive/zip and extractors ignore it), never read past.
func TestUnicodePathFieldsAllJudged(t *testing.T) {
	name := sample[0].path
	same := ziptest.UnicodePath(name, name)
	for _, tc := range []struct {
		name  string
		extra []byte
		ok    bool
	}{
		{"same name, then a renaming one", append(append([]byte{}, same...), ziptest.UnicodePath(name, "manifest.json")...), false},
		{"same name twice", append(append([]byte{}, same...), same...), true},
		{"empty field (header only)", ziptest.ExtraField(0x7075, nil), false},
		{"renaming field cut short at the end", append(append([]byte{}, same...), ziptest.UnicodePath(name, "manifest.json")[:10]...), true},
		{"header of a field cut short", append(append([]byte{}, same...), 0x75, 0x70, 0xFF), true},
		{"length past the end", []byte{0x75, 0x70, 0xFF, 0xFF, 1, 2, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openAndVerify(packWith(t, func(e *ziptest.Entry) { e.Extra = tc.extra }))
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
