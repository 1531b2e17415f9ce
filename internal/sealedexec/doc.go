// Package sealedexec turns an adapter binary on disk into an immutable copy
// that can be executed: the file is opened without following symlinks, copied
// while it is hashed, the hash is compared in constant time with the expected
// digest, and only then may the copy run. On Linux the copy is a sealed memfd
// executed through /proc/self/fd; elsewhere (or when memfd is unavailable) it
// is a 0500 file in a private 0700 directory. The copy is always removed by
// Close, also after a mismatch or an error.
package sealedexec
