package pack

import (
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// A letter and a colon at the start of a path name a Windows drive; any
// other colon is refused as a colon. The reason given tells them apart.
func TestDriveLetterReason(t *testing.T) {
	tests := []struct {
		path, why string
	}{
		{"a:x", "drive letter"},
		{"z:x", "drive letter"},
		{"A:x", "drive letter"},
		{"Z:x", "drive letter"},
		{"m:/x", "drive letter"},
		{"`:x", "colon"},
		{"{:x", "colon"},
		{"@:x", "colon"},
		{"[:x", "colon"},
		{"0:x", "colon"},
		{"ab:x", "colon"},
	}
	for _, tc := range tests {
		wantCode(t, ValidatePath(tc.path), errcode.InvalidPath, tc.why)
	}
}
