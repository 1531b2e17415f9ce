// Package sealedexec turns an adapter binary on disk into an immutable copy
// that can be executed, verified before anything runs. The file is opened
// without following symlinks (and must be a regular file), then:
//
//   - Linux: copied into a memfd (sendfile) and hashed from it (hashing one
//     chunk overlaps copying the next), then sealed
//     (F_SEAL_WRITE|GROW|SHRINK|SEAL); only our close-on-exec fd could write
//     it, so the digest is of exactly what will run. The child gets the
//     memfd as its fd 3 and is executed through /proc/self/fd/3 (a script's
//     interpreter reads it from there too).
//   - Elsewhere, or without memfd: copied while hashed into a 0500 file in a
//     private 0700 directory (XDG_RUNTIME_DIR when it is ours and 0700,
//     else the temp dir).
//
// The digest is compared in constant time with the pinned one before the copy
// can be run. Close always removes the copy, also after a mismatch or an error
// (COMPAT W16).
package sealedexec
