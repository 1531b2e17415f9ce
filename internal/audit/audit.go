// Package audit appends security-relevant events to a project's audit log,
// <project root>/.epack/audit.log, one JSON object per line. It owns how the
// log is opened (never through a symbolic link, never blocking on a FIFO,
// only a regular file) and the two ways a caller records: a best-effort
// trace and the fail-closed record an insecure opt-in must leave.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// File is the audit log, relative to the project root.
const File = ".epack/audit.log"

// Trace appends one JSON line {"time","event","pid",attrs…} to the audit log
// of projectRoot. It is for events that only leave a trace (a refused URL):
// a failure is reported on warn (nil: dropped), never returned, so the
// operation goes on. An empty projectRoot records nothing.
func Trace(projectRoot, event string, attrs map[string]any, warn io.Writer) {
	if err := appendLine(projectRoot, event, attrs); err != nil && warn != nil {
		fmt.Fprintf(warn, "epack: warning: could not write audit log: %v\n", err)
	}
}

// Insecure records the use of an insecure opt-in (--insecure-*, its
// environment switch, a custom endpoint) before the insecure thing is done.
// The line is the price of the opt-in: when it cannot be written (the log is
// a dangling symbolic link, a FIFO or a folder, the disk is full, there is
// no project folder) Insecure returns a PolicyViolation naming the log, and
// the caller must stop.
func Insecure(projectRoot, event string, attrs map[string]any) error {
	if projectRoot == "" {
		return errcode.New(errcode.PolicyViolation, "refusing %s: there is no project folder to keep the audit log (%s) in", event, File).
			WithHint("run epack inside a project (a folder with epack.yaml), or drop the insecure option")
	}
	path := filepath.Join(projectRoot, File)
	if err := appendLine(projectRoot, event, attrs); err != nil {
		return errcode.Wrap(errcode.PolicyViolation, err, "refusing %s: the audit log %s cannot be written, and an insecure option is only allowed when its use is recorded", event, path).
			WithHint("make %s a regular writable file (remove a symbolic link, FIFO or folder in its place; free disk space), or drop the insecure option", path)
	}
	return nil
}

// appendLine writes one record. The project root is opened as its path
// resolves (a shell may name it through a link, as macOS's /tmp does), as
// audit always did; .epack below it and the log are opened without
// following links, the log for appending only.
func appendLine(projectRoot, event string, attrs map[string]any) error {
	if projectRoot == "" {
		return nil
	}
	line, err := record(event, attrs)
	if err != nil {
		return err
	}
	dir, err := safefile.OpenDirBelow(projectRoot, projectRoot, filepath.Dir(File), true, 0o755)
	if err != nil {
		return err
	}
	defer dir.Close()
	f, err := dir.OpenAppend(filepath.Base(File), 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// record encodes one log line; time, event and pid win over attrs.
func record(event string, attrs map[string]any) ([]byte, error) {
	rec := make(map[string]any, len(attrs)+3)
	for k, v := range attrs {
		rec[k] = v
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["event"] = event
	rec["pid"] = os.Getpid()
	line, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}
