//go:build !unix

package safefile

import "errors"

// ReadFileNoFollow is unsupported off unix: it always fails.
func ReadFileNoFollow(dir, rel string, max int64) ([]byte, error) {
	return nil, errors.New("reading run results is only supported on unix systems")
}
