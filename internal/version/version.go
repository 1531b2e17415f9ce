// Package version holds what the epack binary knows about its own build:
// the version string and commit, set at build time with
//
//	-ldflags "-X github.com/evidencerelay/epack/internal/version.Version=…
//	          -X github.com/evidencerelay/epack/internal/version.Commit=…"
//
// and, when Commit is not set that way, the commit the go command recorded
// from the checkout it built (vcs.revision and vcs.modified of
// runtime/debug.ReadBuildInfo).
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is the epack client version recorded in receipts and shown by --version.
var Version = "0.1.0-dev"

// Commit is the source commit, when the build sets it with -ldflags. Left
// empty, Get reads it from the build information instead.
var Commit = ""

// Unknown is the commit shown when neither -ldflags nor the build
// information name one (go run, a build outside a checkout, -buildvcs=false).
const Unknown = "unknown"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return Info{
		Version:   Version,
		Commit:    commitOf(Commit, bi),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
}

// commitOf is the commit to show: the -ldflags value when set, else
// vcs.revision from bi with "-dirty" appended when vcs.modified is true
// (the working tree had uncommitted changes), else Unknown.
func commitOf(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" {
		return ldflags
	}
	if bi == nil {
		return Unknown
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return Unknown
	}
	if modified {
		rev += "-dirty"
	}
	return rev
}
