//go:build !unix

package yamlsafe

import (
	"fmt"
	"os"
)

// openNoFollow opens path read-only after checking that the last component
// is not a symlink (best effort where O_NOFOLLOW does not exist).
func openNoFollow(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s %w", path, ErrSymlink)
	}
	return os.Open(path)
}
