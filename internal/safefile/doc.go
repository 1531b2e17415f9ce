// Package safefile writes files without ever following a symbolic link that
// someone else could have planted: folders are walked one component at a time
// with openat(O_NOFOLLOW|O_DIRECTORY), files are created O_EXCL|O_NOFOLLOW,
// and every write is durable (temp file in the target folder, fsync, rename,
// fsync of the folder).
//
// It owns: the no-follow folder walk ([OpenDir], [MkdirAllNoFollow],
// [Dir.OpenDir], [Dir.ReadDir]), temp files ([CreateTempIn]), atomic commits
// with or without replacement ([Commit]), collision-free durable writes for
// receipts ([WriteUnique]) and files created open under a free name
// ([Dir.CreateUnique]), lock and append-only log files ([Dir.OpenLock],
// [Dir.OpenAppend]), atomic replacement ([WriteAtomic]) and no-follow reads
// ([OpenNoFollow], [ReadFileNoFollow]). Code elsewhere should not pass
// O_NOFOLLOW itself: it adds the helper it needs here instead.
//
// Only the components below a given root are protected; the root path itself
// is resolved by the kernel as usual except that its final component must not
// be a symbolic link. Prefer the [Dir] methods when several operations happen
// in one folder: they work on an open folder handle, so a folder that is
// swapped for a symlink after the walk cannot redirect them.
//
// Errors (except ReadFileNoFollow's, which its callers wrap) are
// *errcode.Error with codes SymlinkNotAllowed, PathTraversal,
// OutputExists, PermissionDenied, InvalidPath or IOError. Unix only.
package safefile
