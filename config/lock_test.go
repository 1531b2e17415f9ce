package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/exitstatus"

	"gopkg.in/yaml.v3"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func writeLock(t *testing.T, body string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, LockFileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func readLockBytes(t *testing.T, root string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleLock() *LockFile {
	ok := &LockFile{SchemaVersion: 1, Remotes: map[string]*LockedRemote{
		"zeta": {Kind: KindExternal, LockedAt: "2025-01-01T00:00:00Z", Platforms: map[string]LockedPlatform{
			"linux/amd64": {Digest: d1}, "darwin/arm64": {Digest: d2},
		}},
		"alpha": {
			Source: "github.com/owner/repo", Version: "v0.1.3", Commit: "0123abcd",
			Signer:       &LockSigner{Issuer: "https://token.actions.githubusercontent.com", Subject: "s", SourceRepositoryURI: "https://github.com/owner/repo", SourceRepositoryRef: "refs/tags/v0.1.3"},
			ResolvedFrom: &LockResolvedFrom{Registry: "github", Descriptor: "owner/repo@v0.1.3"},
			Verification: &LockVerification{Status: "verified", VerifiedAt: "2025-01-02T03:04:05Z"},
			LockedAt:     "2025-01-02T03:04:05Z",
			Platforms:    map[string]LockedPlatform{"linux/amd64": {Digest: d1, Asset: "epack-remote-x_linux_amd64", URL: "https://example/x"}},
		},
	}}
	return ok
}

func TestLockMissingFile(t *testing.T) {
	l, err := LoadLock(t.TempDir())
	if err != nil || l.SchemaVersion != 1 || l.Remotes == nil || len(l.Remotes) != 0 {
		t.Fatalf("LoadLock = %+v, %v", l, err)
	}
}

func TestLockRoundTripDeterministic(t *testing.T) {
	root := t.TempDir()
	want := sampleLock()
	if err := want.Save(root); err != nil {
		t.Fatal(err)
	}
	first := readLockBytes(t, root)
	for i := 0; i < 10; i++ {
		if err := sampleLock().Save(root); err != nil {
			t.Fatal(err)
		}
		if b := readLockBytes(t, root); !bytes.Equal(b, first) {
			t.Fatalf("save %d differs:\n%s\nvs\n%s", i, b, first)
		}
		// load → save is stable too
		l, err := LoadLock(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Save(root); err != nil {
			t.Fatal(err)
		}
		if b := readLockBytes(t, root); !bytes.Equal(b, first) {
			t.Fatalf("load+save %d differs:\n%s\nvs\n%s", i, b, first)
		}
	}
	got, err := LoadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", got, want)
	}
	s := string(first)
	// Keys sorted at every level, 2-space indent.
	order := []string{"remotes:", "  alpha:", "    commit:", "    locked_at:", "    platforms:", "      linux/amd64:", "        asset:", "        digest:", "        url:", "    resolved_from:", "    signer:", "    source:", "    verification:", "    version:", "  zeta:", "    kind: external", "      darwin/arm64:", "      linux/amd64:", "schema_version: 1"}
	pos := 0
	for _, o := range order {
		i := strings.Index(s[pos:], o)
		if i < 0 {
			t.Fatalf("%q not found in order after %d:\n%s", o, pos, s)
		}
		pos += i + len(o)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestLockPreservesOtherSections(t *testing.T) {
	orig := `# lockfile header
schema_version: 1
components:
  tools:
    zz: {version: v1}   # keep me
    aa: {version: v2}
remotes:
  old:
    kind: external
    platforms:
      linux/amd64: {digest: ` + d1 + `}
collectors:
  - b
  - a
`
	root := writeLock(t, orig)
	l, err := LoadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Remotes["old"] == nil || l.Remotes["old"].Platforms["linux/amd64"].Digest != d1 {
		t.Fatalf("loaded %+v", l.Remotes["old"])
	}
	delete(l.Remotes, "old")
	l.Pin("new", KindExternal, "linux/arm64", d2, time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600)))
	if err := l.Save(root); err != nil {
		t.Fatal(err)
	}
	s := string(readLockBytes(t, root))
	for _, want := range []string{"# keep me", "zz: {version: v1}", "aa: {version: v2}", "- b\n  - a", "new:", "locked_at: \"2025-03-04T04:06:07Z\"", "# lockfile header"} {
		if !strings.Contains(s, want) {
			t.Errorf("saved file lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "old:") {
		t.Errorf("removed remote still present:\n%s", s)
	}
	// Other sections keep their inner order; top-level keys are sorted.
	if strings.Index(s, "zz:") > strings.Index(s, "aa:") {
		t.Errorf("inner order of preserved section changed:\n%s", s)
	}
	if !(strings.Index(s, "collectors:") < strings.Index(s, "components:") && strings.Index(s, "components:") < strings.Index(s, "remotes:") && strings.Index(s, "remotes:") < strings.Index(s, "schema_version:")) {
		t.Errorf("top-level keys not sorted:\n%s", s)
	}
	// Saving again is byte-identical.
	first := readLockBytes(t, root)
	l2, err := LoadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Save(root); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, readLockBytes(t, root)) {
		t.Errorf("second save differs")
	}
}

func TestLockDanglingAliasInlined(t *testing.T) {
	root := writeLock(t, "remotes:\n  a: &e\n    kind: external\n    platforms: {linux/amd64: {digest: "+d1+"}}\nother: *e\n")
	l, err := LoadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Save(root); err != nil {
		t.Fatal(err)
	}
	s := string(readLockBytes(t, root))
	if strings.Contains(s, "*e") {
		t.Fatalf("dangling alias kept:\n%s", s)
	}
	if _, err := LoadLock(root); err != nil {
		t.Fatalf("reload: %v\n%s", err, s)
	}
}

// Sorting the top-level keys must not move an alias before its anchor, or
// next to another anchor of the same name (fuzz seed 0f2f74513c2b1cfc).
func TestLockSaveKeepsWhatAliasesMean(t *testing.T) {
	for _, body := range []string{
		"c: &a\n0: *a\n",
		"z: &a zed\nb: *a\n",
		"x: &a one\ny: *a\nb: &a two\nc: *a\n",
		"k: {m: &a [1, 2]}\nj: [*a, *a]\n",
	} {
		root := writeLock(t, body)
		l, err := LoadLock(root)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if err := l.Save(root); err != nil {
			t.Fatalf("%q: save: %v", body, err)
		}
		saved := readLockBytes(t, root)
		var before, after map[string]any
		if err := yaml.Unmarshal([]byte(body), &before); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(saved, &after); err != nil {
			t.Fatalf("%q: saved file does not load: %v\n%s", body, err, saved)
		}
		delete(after, "schema_version")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("%q: saved file means %v, the original %v\n%s", body, after, before, saved)
		}
	}
}

func TestLockSchemaVersion(t *testing.T) {
	for body, want := range map[string]int{
		"remotes: {}\n":                      1,
		"schema_version: 0\n":                1,
		"schema_version: 1\n":                1,
		"schema_version: 7\n":                7,
		"":                                   1,
		"# only a comment\n":                 1,
		"schema_version: 2\nunknown: [1]\n":  2,
		"schema_version: 1\nremotes: null\n": 1,
	} {
		l, err := LoadLock(writeLock(t, body))
		if err != nil || l.SchemaVersion != want {
			t.Errorf("%q: %+v, %v; want schema %d", body, l, err, want)
		}
	}
	root := t.TempDir()
	if err := (&LockFile{}).Save(root); err != nil {
		t.Fatal(err)
	}
	if s := string(readLockBytes(t, root)); s != "schema_version: 1\n" {
		t.Errorf("empty lock saved as %q", s)
	}
}

func TestLockErrors(t *testing.T) {
	ext := func(extra string) string {
		return "remotes:\n  r:\n    kind: external\n" + extra
	}
	src := func(extra string) string {
		return "remotes:\n  r:\n" + extra
	}
	var manyPlatforms strings.Builder
	manyPlatforms.WriteString("    platforms:\n")
	for i := 0; i < 101; i++ {
		manyPlatforms.WriteString("      os" + strings.Repeat("x", i) + "/amd64: {digest: " + d1 + "}\n")
	}
	var manyRemotes strings.Builder
	manyRemotes.WriteString("remotes:\n")
	for i := 0; i < 101; i++ {
		manyRemotes.WriteString("  r" + strings.Repeat("x", i%60) + string(rune('a'+i/60)) + ": {kind: external}\n")
	}
	tests := []struct{ name, body, want string }{
		{"invalid yaml", "remotes: [\n", "invalid YAML"},
		{"top level list", "- a\n", "top level"},
		{"schema_version string", "schema_version: one\n", "schema_version"},
		{"bad remote name", "remotes:\n  Bad: {kind: external}\n", `remote "Bad"`},
		{"remote name ..", "remotes:\n  a..b: {kind: external}\n", `remote "a..b"`},
		{"source entry without version", src("    source: github.com/o/r\n"), "version is required"},
		{"bad version", src("    version: latest\n"), `version "latest"`},
		{"version with slash", src("    version: v1-a/b\n"), `version "v1-a/b"`},
		{"version traversal", src("    version: v1-a..b\n"), `".."`},
		{"version too long", src("    version: v1-" + strings.Repeat("a", 130) + "\n"), "longer than 128"},
		{"external version with slash", ext("    version: ../x\n"), "path separators"},
		{"locked_at not strict", ext("    locked_at: 2025-01-01T00:00:00+00:00\n"), "locked_at"},
		{"locked_at fraction", ext("    locked_at: 2025-01-01T00:00:00.5Z\n"), "locked_at"},
		{"locked_at lowercase z", ext("    locked_at: 2025-01-01t00:00:00z\n"), "locked_at"},
		{"locked_at bad date", ext("    locked_at: 2025-02-29T00:00:00Z\n"), "locked_at"},
		{"locked_at bad hour", ext("    locked_at: 2025-01-01T24:00:00Z\n"), "locked_at"},
		{"verified_at not strict", src("    version: v1.0.0\n    verification: {verified_at: yesterday}\n"), "verification.verified_at"},
		{"too many platforms", ext(manyPlatforms.String()), "at most 100"},
		{"too many remotes", manyRemotes.String(), "at most 100"},
		{"bad platform key", ext("    platforms: {linux: {digest: " + d1 + "}}\n"), `"linux"`},
		{"bad digest", ext("    platforms: {linux/amd64: {digest: md5:abc}}\n"), "digest"},
		{"uppercase digest", ext("    platforms: {linux/amd64: {digest: " + strings.ToUpper(d1[:7]) + d1[7:] + "}}\n"), "digest"},
		{"uppercase hex", ext("    platforms: {linux/amd64: {digest: sha256:" + strings.Repeat("A", 64) + "}}\n"), "digest"},
		{"short digest", ext("    platforms: {linux/amd64: {digest: " + d1[:70] + "}}\n"), "digest"},
		{"long digest", ext("    platforms: {linux/amd64: {digest: " + d1 + "1}}\n"), "digest"},
		{"duplicate remote", "remotes:\n  r: {kind: external}\n  r: {kind: external}\n", "more than once"},
		{"alias bomb", "a: &a x\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n", "unsafe YAML"},
		{"deep nesting", strings.Repeat("[", 101) + strings.Repeat("]", 101) + "\n", "nesting"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadLock(writeLock(t, tc.body))
			if err == nil {
				t.Fatalf("LoadLock succeeded, want %q", tc.want)
			}
			t.Log(err)
			if errcode.Of(err) != errcode.LockfileInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (code %s), want LockfileInvalid containing %q", err, errcode.Of(err), tc.want)
			}
			if exitstatus.Of(err) != exitstatus.Lockfile {
				t.Errorf("exit code %d", exitstatus.Of(err))
			}
		})
	}
	// A leap day is a real date.
	if _, err := LoadLock(writeLock(t, ext("    locked_at: 2024-02-29T23:59:59Z\n"))); err != nil {
		t.Errorf("leap day: %v", err)
	}
	// Valid versions.
	for _, v := range []string{"v1", "1.2", "v1.2.3", "v1.2.3-rc.1", "0.1.0-beta-2"} {
		if _, err := LoadLock(writeLock(t, src("    version: "+v+"\n"))); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

func TestLockSaveRefusesInvalid(t *testing.T) {
	root := t.TempDir()
	l := &LockFile{Remotes: map[string]*LockedRemote{"r": {Version: "not a version"}}}
	if err := l.Save(root); errcode.Of(err) != errcode.LockfileInvalid {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, LockFileName)); !os.IsNotExist(err) {
		t.Fatalf("file written anyway")
	}
}

func TestLockSymlinkRefused(t *testing.T) {
	real := t.TempDir()
	target := filepath.Join(real, "target.yaml")
	os.WriteFile(target, []byte("schema_version: 1\n"), 0o644)
	root := t.TempDir()
	if err := os.Symlink(target, filepath.Join(root, LockFileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLock(root); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Errorf("LoadLock err = %v", err)
	}
	if err := sampleLock().Save(root); errcode.Of(err) != errcode.SymlinkNotAllowed {
		t.Errorf("Save err = %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "schema_version: 1\n" {
		t.Errorf("symlink target changed: %q", b)
	}
}

func TestLockOversized(t *testing.T) {
	root := writeLock(t, "schema_version: 1\n# "+strings.Repeat("x", MaxLockBytes)+"\n")
	if _, err := LoadLock(root); errcode.Of(err) != errcode.LockfileInvalid || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockSaveKeepsMode(t *testing.T) {
	root := writeLock(t, "schema_version: 1\n")
	os.Chmod(filepath.Join(root, LockFileName), 0o600)
	if err := sampleLock().Save(root); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(root, LockFileName))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", st.Mode())
	}
	root = t.TempDir()
	sampleLock().Save(root)
	st, _ = os.Stat(filepath.Join(root, LockFileName))
	if st.Mode().Perm() != 0o644 {
		t.Errorf("new file mode = %v", st.Mode())
	}
}

func TestPin(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var l LockFile
	l.Pin("bin", KindExternal, "linux/amd64", d1, now)
	l.Pin("bin", KindExternal, "darwin/arm64", d2, now.Add(time.Hour))
	e := l.Remotes["bin"]
	if l.SchemaVersion != 1 || e.Kind != KindExternal || e.LockedAt != "2025-01-02T04:04:05Z" || len(e.Platforms) != 2 || e.Platforms["linux/amd64"].Digest != d1 {
		t.Fatalf("entry = %+v", e)
	}
	// Re-pinning one platform keeps the others and their extra fields.
	e.Platforms["darwin/arm64"] = LockedPlatform{Digest: d2, Asset: "a"}
	l.Pin("bin", KindExternal, "linux/amd64", d2, now)
	if e := l.Remotes["bin"]; e.Platforms["linux/amd64"].Digest != d2 || e.Platforms["darwin/arm64"].Asset != "a" {
		t.Fatalf("re-pin = %+v", e)
	}
	// Default platform key.
	l.Pin("here", KindExternal, "", d1, now)
	if l.PinnedDigest("here", "") != d1 || l.PinnedDigest("here", PlatformKey()) != d1 || l.PinnedDigest("nope", "") != "" {
		t.Fatalf("PinnedDigest wrong")
	}
	// A source entry keeps its version; switching kind starts afresh.
	l.Remotes["src"] = &LockedRemote{Version: "v1.0.0", Platforms: map[string]LockedPlatform{"darwin/arm64": {Digest: d2}}}
	l.Pin("src", "", "linux/amd64", d1, now)
	if e := l.Remotes["src"]; e.Version != "v1.0.0" || e.Kind != "" || e.LockedAt != "" || len(e.Platforms) != 2 {
		t.Fatalf("source pin = %+v", e)
	}
	l.Pin("src", KindExternal, "linux/amd64", d1, now)
	if e := l.Remotes["src"]; e.Version != "" || len(e.Platforms) != 1 || e.Kind != KindExternal {
		t.Fatalf("kind switch = %+v", e)
	}
	l.Remotes["gone"] = nil // nil entries are skipped on save
	var nilLock *LockFile
	if nilLock.PinnedDigest("x", "") != "" || nilLock.Entry("x") != nil {
		t.Fatal("nil lock")
	}
	if PlatformKey() == "" || !strings.Contains(PlatformKey(), "/") {
		t.Fatalf("PlatformKey = %q", PlatformKey())
	}
	root := t.TempDir()
	if err := l.Save(root); err != nil {
		t.Fatal(err)
	}
	delete(l.Remotes, "gone")
	got, err := LoadLock(root)
	if err != nil || !reflect.DeepEqual(got.Remotes, l.Remotes) {
		t.Fatalf("reload: %v\n%+v\n%+v", err, got.Remotes, l.Remotes)
	}
}
