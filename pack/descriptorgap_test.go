package pack

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// Stray bytes after a data descriptor are counted from the descriptor's
// end, as for any other gap.
func TestStrayBytesAfterDescriptor(t *testing.T) {
	b := packWith(t, func(e *ziptest.Entry) {
		e.Flags = 0x8
		e.Descriptor = append(e.Descriptor32(), "abc"...)
	})
	err := openAndVerify(b)
	wantCode(t, err, errcode.NotAZip)
	if !strings.Contains(err.Error(), "3 bytes at offset") {
		t.Fatalf("err = %v, want one counting 3 stray bytes", err)
	}
}
