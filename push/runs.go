package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

// DefaultRunsPatterns are searched under the pack's sidecar folder when the
// remote does not configure runs.paths.
var DefaultRunsPatterns = []string{"tools/**/result.json", "runs/**/result.json"}

// MaxRunResultBytes caps the size of one run result file.
const MaxRunResultBytes = 1 << 20

// isRunID is the rule for a run id: ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$.
func isRunID(s string) bool {
	return names.Token(s, names.Upper+names.Lower+names.Digits, names.Upper+names.Lower+names.Digits+"._:-", 127)
}

// runSyncUnsupported is syncRuns' answer when the adapter turned out not to
// support runs.sync (it answered unsupported_protocol before anything was sent).
type runSyncUnsupported struct {
	runs int
	err  error
}

func (e *runSyncUnsupported) Error() string { return e.err.Error() }
func (e *runSyncUnsupported) Unwrap() error { return e.err }

// Why an adapter counts as not supporting run sync.
const (
	skipNotAnnounced = "its capabilities do not announce runs_sync"
	skipUnsupported  = "it answered runs.sync with unsupported_protocol"
)

// runSyncStep is the run-sync step of a push, after the release exists. An
// adapter that does not support run sync is not a failure: the results
// found are left unsent, and Result, receipt, steps and stderr say so.
// Otherwise it syncs and returns syncRuns' error (also kept as res.RunsError).
func runSyncStep(ctx context.Context, s *remote.Session, in syncInput, res *Result, steps workflow.Steps, stderr io.Writer) error {
	adapter := s.Resolved().Adapter
	if !s.Capabilities().Features.RunsSync {
		// The existing tool skips silently; we speak up when there was
		// something to send.
		if runs, _ := discoverRuns(pack.SidecarPath(in.packPath), in.cwd, in.patterns, in.extra); len(runs) > 0 {
			skipRunSync(res, steps, stderr, adapter, skipNotAnnounced, len(runs))
		}
		return nil
	}
	steps.Start(StepRuns)
	err := syncRuns(ctx, s, in, res)
	var unsupported *runSyncUnsupported
	switch {
	case errors.As(err, &unsupported):
		skipRunSync(res, steps, stderr, adapter, skipUnsupported, unsupported.runs)
		return nil
	case err != nil:
		res.RunsError = err
		return err
	}
	steps.Done(StepRuns)
	return nil
}

// skipRunSync records and reports run results left unsent because the
// adapter does not support run sync.
func skipRunSync(res *Result, steps workflow.Steps, stderr io.Writer, adapter, why string, n int) {
	res.RunsSkipped = "adapter does not support run sync: " + why
	steps.Start(StepRunsSkipped)
	steps.Done(StepRunsSkipped)
	fmt.Fprintf(stderr, "Note: run sync skipped: adapter %q does not support it (%s); %d run result(s) not sent. The release was created.\n", adapter, why, n)
}

// skippedRun is a run result that was found but cannot be sent.
type skippedRun struct {
	RunID  string
	Path   string
	Reason string
}

// discoverRuns finds run results. configPatterns are relative to the sidecar;
// extraPatterns are relative to cwd. Each run id is sent once (first match wins).
func discoverRuns(sidecar, cwd string, configPatterns, extraPatterns []string) ([]protocol.RunItem, []skippedRun) {
	if len(configPatterns) == 0 {
		configPatterns = DefaultRunsPatterns
	}
	var patterns []string
	for _, p := range configPatterns {
		if !filepath.IsAbs(p) {
			p = filepath.Join(sidecar, p)
		}
		patterns = append(patterns, p)
	}
	for _, p := range extraPatterns {
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		patterns = append(patterns, p)
	}
	seenPath := map[string]bool{}
	seenID := map[string]bool{}
	var runs []protocol.RunItem
	var skipped []skippedRun
	for _, pat := range patterns {
		for _, match := range globMatches(pat) {
			if seenPath[match] {
				continue
			}
			seenPath[match] = true
			data, err := readRunFile(match)
			if err != nil {
				skipped = append(skipped, skippedRun{RunID: filepath.Base(filepath.Dir(match)), Path: match, Reason: err.Error()})
				continue
			}
			id := runIDOf(match, data)
			if id == "" {
				skipped = append(skipped, skippedRun{Path: match, Reason: "no usable run id"})
				continue
			}
			if seenID[id] {
				continue
			}
			seenID[id] = true
			sum := sha256.Sum256(data)
			runs = append(runs, protocol.RunItem{RunID: id, ResultPath: match, ResultDigest: "sha256:" + hex.EncodeToString(sum[:])})
		}
	}
	return runs, skipped
}

// runIDOf prefers the result's own "run_id" field; the folder name is the
// fallback (upstream uses only the folder name, which clashes across tools).
func runIDOf(path string, data []byte) string {
	var doc struct {
		RunID string `json:"run_id"`
	}
	if json.Unmarshal(data, &doc) == nil && isRunID(doc.RunID) {
		return doc.RunID
	}
	dir := filepath.Base(filepath.Dir(path))
	if isRunID(dir) {
		return dir
	}
	return ""
}

// readRunFile reads a result file without following a symbolic link and
// refuses files over MaxRunResultBytes.
func readRunFile(path string) ([]byte, error) {
	f, err := safefile.OpenNoFollow(path)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, errSymlinkRun
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegularRun
	}
	if fi.Size() > MaxRunResultBytes {
		return nil, errRunTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxRunResultBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRunResultBytes {
		return nil, errRunTooLarge
	}
	return data, nil
}

type runError string

func (e runError) Error() string { return string(e) }

const (
	errSymlinkRun    = runError("result file is a symbolic link")
	errNotRegularRun = runError("result file is not a regular file")
	errRunTooLarge   = runError("result file is larger than 1 MiB")
)

// globMatches expands a pattern. Patterns without "**" use filepath.Glob;
// with "**" the tree under the longest literal prefix is walked (symlinked
// folders are not followed) and paths are matched segment by segment.
func globMatches(pattern string) []string {
	pattern = filepath.Clean(pattern)
	if !strings.Contains(pattern, "**") {
		m, _ := filepath.Glob(pattern)
		var files []string
		for _, p := range m {
			if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
				files = append(files, p)
			}
		}
		return files
	}
	segs := strings.Split(filepath.ToSlash(pattern), "/")
	base := []string{}
	for _, s := range segs {
		if strings.ContainsAny(s, "*?[") {
			break
		}
		base = append(base, s)
	}
	root := strings.Join(base, "/")
	if root == "" {
		root = "/"
	}
	rest := segs[len(base):]
	var out []string
	_ = filepath.WalkDir(filepath.FromSlash(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(filepath.FromSlash(root), p)
		if err != nil {
			return nil
		}
		if matchSegments(rest, strings.Split(filepath.ToSlash(rel), "/")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// matchSegments matches path segments against pattern segments where "**"
// matches zero or more segments.
func matchSegments(pat, path []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(path); i++ {
				if matchSegments(pat[1:], path[i:]) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 {
			return false
		}
		ok, err := filepath.Match(pat[0], path[0])
		if err != nil || !ok {
			return false
		}
		pat, path = pat[1:], path[1:]
	}
	return len(path) == 0
}
