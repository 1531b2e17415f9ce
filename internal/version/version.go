// Package version holds the epack version string, set at build time with
// -ldflags "-X github.com/evidencerelay/epack/internal/version.Version=…".
package version

// Version is the epack client version recorded in receipts and shown by --version.
var Version = "0.1.0-dev"
