//go:build !unix

package registry

import "errors"

func readNoFollow(dir, rel string, max int64) ([]byte, error) {
	return nil, errors.New("reading run results is only supported on unix systems")
}
