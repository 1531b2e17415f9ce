package remote

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
)

// lockedSource pins remote name to version of source in p's lockfile.
func (p *project) lockedSource(name, source, version string) {
	p.lock.Remotes[name] = &config.LockedRemote{Source: source, Version: version,
		Platforms: map[string]config.LockedPlatform{config.PlatformKey(): {Digest: "sha256:" + strings.Repeat("ab", 32)}}}
}

// An installed source adapter is found under the adapter's name (our
// installer) or under the remote's name (the existing tool's installer,
// COMPAT W14), the adapter's name first.
func TestResolveInstalledFileNames(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(envAdapterDir, t.TempDir())
	for _, tc := range []struct {
		name, remote string
		files        []string // in the install folder
		want         string   // file resolved; "" for managed (not installed)
	}{
		{"adapter's name", "origin", []string{"epack-remote-sdk"}, "epack-remote-sdk"},
		{"remote's name", "origin", []string{"epack-remote-origin"}, "epack-remote-origin"},
		{"both: the adapter's name first", "origin", []string{"epack-remote-origin", "epack-remote-sdk"}, "epack-remote-sdk"},
		{"remote named like the adapter", "sdk", []string{"epack-remote-sdk"}, "epack-remote-sdk"},
		{"neither", "origin", []string{"epack-remote-other"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			r := &config.Remote{Name: tc.remote, Source: "acme/epack-remote-sdk@^1.0.0"}
			p.lockedSource(tc.remote, "github.com/acme/epack-remote-sdk", "v1.0.0")
			dir := filepath.Join(p.root, ".epack", "remotes", tc.remote, "v1.0.0", runtime.GOOS+"-"+runtime.GOARCH)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Resolve(p.root, r, p.lock)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if res.Status != StatusManaged || res.Path != filepath.Join(dir, "epack-remote-sdk") {
					t.Fatalf("resolved %+v, want managed at the adapter's name", res)
				}
				return
			}
			if res.Status != StatusVerified || res.Origin != OriginInstalled || res.Path != filepath.Join(dir, tc.want) {
				t.Fatalf("resolved %+v, want %s installed", res, tc.want)
			}
		})
	}
}

// A locked version is one path component of at most 128 characters.
func TestResolveLockedVersionNames(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(envAdapterDir, t.TempDir())
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"v1.0.0", true},
		{strings.Repeat("v", 128), true},
		{strings.Repeat("v", 129), false},
		{".", false},
		{"..", false},
		{"v1/../../x", false},
		{`v1\x`, false},
		{"v1\x00", false},
	} {
		p := newProject(t)
		r := &config.Remote{Name: "origin", Source: "acme/epack-remote-sdk@^1.0.0"}
		p.lockedSource("origin", "acme/epack-remote-sdk", tc.version)
		res, err := Resolve(p.root, r, p.lock)
		if tc.ok {
			if err != nil || res.Status != StatusManaged || res.Version != tc.version {
				t.Errorf("version %q (%d chars): %+v, %v", tc.version, len(tc.version), res, err)
			}
			continue
		}
		if !errcode.Has(err, errcode.LockfileInvalid) {
			t.Errorf("version %q (%d chars): %+v, %v; want lockfile_invalid", tc.version, len(tc.version), res, err)
		}
	}
}

// normSource compares sources as owner/repo, whatever the spelling.
func TestNormSource(t *testing.T) {
	for in, want := range map[string]string{
		"acme/epack-remote-s3":                       "acme/epack-remote-s3",
		"acme/epack-remote-s3@^1.2":                  "acme/epack-remote-s3",
		" github.com/ACME/epack-remote-s3 ":          "acme/epack-remote-s3",
		"https://github.com/acme/epack-remote-s3/":   "acme/epack-remote-s3",
		"http://github.com/acme/epack-remote-s3.git": "acme/epack-remote-s3",
		"@v1": "",
		"":    "",
	} {
		if got := normSource(in); got != want {
			t.Errorf("normSource(%q) = %q, want %q", in, got, want)
		}
	}
}
