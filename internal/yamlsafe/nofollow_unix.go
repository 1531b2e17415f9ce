//go:build unix

package yamlsafe

import (
	"os"

	"github.com/evidencerelay/epack/internal/safefile"
)

// openNoFollow opens path read-only; the kernel refuses a symlinked last component (ELOOP).
func openNoFollow(path string) (*os.File, error) { return safefile.OpenNoFollow(path) }
