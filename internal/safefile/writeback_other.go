//go:build !linux

package safefile

import "os"

// StartWriteback is a no-op where sync_file_range does not exist.
func StartWriteback(f *os.File, off, n int64) {}
