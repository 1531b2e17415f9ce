// Package remote owns the Remote Adapter Protocol v1: its message types, and
// everything between "the user named a remote" and "a verified adapter
// answered": resolving the adapter binary, checking it against the lockfile,
// running it sealed with a minimal environment, bounding its output, and
// checking every response.
package remote
