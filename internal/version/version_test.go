package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestCommitOf(t *testing.T) {
	bi := func(kv ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return b
	}
	for _, tc := range []struct {
		name, ldflags string
		bi            *debug.BuildInfo
		want          string
	}{
		{"ldflags win", "abc123", bi("vcs.revision", "fff", "vcs.modified", "true"), "abc123"},
		{"clean checkout", "", bi("vcs.revision", "0123456789abcdef", "vcs.modified", "false"), "0123456789abcdef"},
		{"modified checkout", "", bi("vcs.revision", "0123456789abcdef", "vcs.modified", "true"), "0123456789abcdef-dirty"},
		{"no vcs settings", "", bi("-trimpath", "true"), Unknown},
		{"modified without revision", "", bi("vcs.modified", "true"), Unknown},
		{"no build info", "", nil, Unknown},
	} {
		if got := commitOf(tc.ldflags, tc.bi); got != tc.want {
			t.Errorf("%s: commitOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestGet(t *testing.T) {
	old, oldCommit := Version, Commit
	defer func() { Version, Commit = old, oldCommit }()
	Version, Commit = "9.9.9", "cafe"
	got := Get()
	want := Info{Version: "9.9.9", Commit: "cafe", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if got != want {
		t.Fatalf("Get() = %+v, want %+v", got, want)
	}
}
