// Package receiptfile stores audit receipts: one JSON file per operation under
// <base>/<remote>/<YYYYMMDD_HHMMSS>_<8 hex>.json, never overwritten, written
// durably, and never through a symbolic link. Push and pull share it.
package receiptfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// ValidateRemoteName checks that name is one safe path component.
func ValidateRemoteName(name string) error {
	switch {
	case name == "", name == ".", name == "..", strings.HasPrefix(name, ".."),
		strings.ContainsAny(name, "/\\\x00"), len(name) > 255:
		return errcode.New(errcode.PathTraversal, "remote name %q cannot be used as a receipt folder name", name).
			WithHint("remote names match ^[a-z0-9][a-z0-9._-]{0,63}$")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errcode.New(errcode.PathTraversal, "remote name %q contains a control character", name)
		}
	}
	return nil
}

// FileBase returns the receipt file name without extension for a time and digest.
func FileBase(createdAt time.Time, digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	if len(hex) > 8 {
		hex = hex[:8]
	}
	clean := make([]byte, 0, len(hex))
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			clean = append(clean, c)
		}
	}
	if len(clean) == 0 {
		clean = []byte("nodigest")
	}
	return createdAt.UTC().Format("20060102_150405") + "_" + string(clean)
}

// Write stores v as indented JSON under baseDir/<remote>/ and returns the path.
// anchor is a trusted existing directory (normally the project root); every
// folder from anchor down to the receipt is opened without following symbolic
// links. When baseDir is not under anchor, the nearest existing ancestor of
// baseDir becomes the anchor.
func Write(anchor, baseDir, remoteName string, createdAt time.Time, digest string, v any) (string, error) {
	if err := ValidateRemoteName(remoteName); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding receipt: %w", err)
	}
	data = append(data, '\n')
	absBase, err := filepath.Abs(baseDir)
	if err != nil {
		return "", fmt.Errorf("receipt folder: %w", err)
	}
	root, rel := splitAnchor(anchor, absBase)
	// The folder is opened once, without following links, and the receipt is
	// created relative to that handle: a folder swapped for a symbolic link
	// after the walk cannot redirect the write.
	dir, err := safefile.OpenDir(root, filepath.Join(rel, remoteName), true, 0o755)
	if err != nil {
		return "", fmt.Errorf("creating receipt folder: %w", err)
	}
	defer dir.Close()
	path, err := dir.WriteUnique(FileBase(createdAt, digest), ".json", data, 0o644)
	if err != nil {
		return "", fmt.Errorf("writing receipt: %w", err)
	}
	return path, nil
}

// splitAnchor picks the trusted root and the relative path below it.
func splitAnchor(anchor, absBase string) (string, string) {
	if anchor != "" {
		if a, err := filepath.Abs(anchor); err == nil {
			if rel, err := filepath.Rel(a, absBase); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return a, rel
			}
		}
	}
	root := absBase
	for {
		if fi, err := os.Lstat(root); err == nil && fi.IsDir() {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			break
		}
		root = parent
	}
	rel, err := filepath.Rel(root, absBase)
	if err != nil {
		rel = "."
	}
	return root, rel
}

// Save writes a receipt the way push and pull do. projectRoot is the
// trusted anchor the caller names (the project root); an empty baseDir means
// <projectRoot>/<defaultRel>. With no projectRoot, baseDir (or defaultRel)
// is taken as it is, relative to the working directory, and anchored at its
// nearest existing folder. Save never looks for the project on its own.
func Save(projectRoot, baseDir, defaultRel, remoteName string, createdAt time.Time, digest string, v any) (string, error) {
	if baseDir == "" {
		baseDir = filepath.Join(projectRoot, defaultRel)
	}
	if createdAt.IsZero() {
		createdAt = time.Now().UTC()
	}
	return Write(projectRoot, baseDir, remoteName, createdAt, digest, v)
}
