//go:build unix && !linux

package safefile

// renameNoReplace moves src to dst only if dst does not exist, using an
// exclusive hard link followed by removal of src. It returns unix.EEXIST when
// dst exists.
func renameNoReplace(srcfd int, src string, dstfd int, dst string) error {
	return linkThenUnlink(srcfd, src, dstfd, dst)
}
