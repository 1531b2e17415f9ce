package remote

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"golang.org/x/sys/unix"
)

// AuditFile is the audit log, relative to the project root.
const AuditFile = ".epack/audit.log"

// Audit appends one JSON line {"time","event",attrs…} to
// <projectRoot>/.epack/audit.log. The .epack folder is created if needed and
// never followed through a symlink; the file is opened O_APPEND|O_NOFOLLOW.
// Audit is best effort, for events that only leave a trace (a refused URL):
// a failure is reported on stderr, never returned. An insecure opt-in is
// recorded with AuditInsecure instead, which fails closed.
func Audit(projectRoot string, event string, attrs map[string]any) {
	if err := audit(projectRoot, event, attrs); err != nil {
		_, _ = os.Stderr.WriteString("epack: warning: could not write audit log: " + err.Error() + "\n")
	}
}

// AuditInsecure records the use of an insecure opt-in (--insecure-*, its
// environment switch, a custom endpoint) before the insecure thing is done.
// The record is the price of the opt-in: when the line cannot be written —
// audit.log is a dangling symbolic link, a FIFO, a folder, the disk is full,
// or there is no project folder — it returns a PolicyViolation naming the
// audit log and the caller must stop.
func AuditInsecure(projectRoot string, event string, attrs map[string]any) error {
	path := filepath.Join(projectRoot, AuditFile)
	if projectRoot == "" {
		return errcode.New(errcode.PolicyViolation, "refusing %s: there is no project folder to keep the audit log (%s) in", event, AuditFile).
			WithHint("run epack inside a project (a folder with epack.yaml), or drop the insecure option")
	}
	if err := audit(projectRoot, event, attrs); err != nil {
		return errcode.Wrap(errcode.PolicyViolation, err, "refusing %s: the audit log %s cannot be written, and an insecure option is only allowed when its use is recorded", event, path).
			WithHint("make %s a regular writable file (remove a symbolic link, FIFO or folder in its place; free disk space), or drop the insecure option", path)
	}
	return nil
}

func audit(projectRoot string, event string, attrs map[string]any) error {
	if projectRoot == "" {
		return nil
	}
	rec := map[string]any{}
	for k, v := range attrs {
		rec[k] = v
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["event"] = event
	rec["pid"] = os.Getpid()
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')

	root, err := unix.Open(filepath.Clean(projectRoot), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: projectRoot, Err: err}
	}
	defer unix.Close(root)
	if err := unix.Mkdirat(root, ".epack", 0o755); err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: filepath.Join(projectRoot, ".epack"), Err: err}
	}
	dir, err := unix.Openat(root, ".epack", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(projectRoot, ".epack"), Err: err}
	}
	defer unix.Close(dir)
	// O_NONBLOCK: a FIFO planted as audit.log must not block the open.
	fd, err := unix.Openat(dir, "audit.log", unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(projectRoot, AuditFile), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			err = unix.EINVAL
		}
		return &os.PathError{Op: "open", Path: filepath.Join(projectRoot, AuditFile), Err: fmt.Errorf("not a regular file: %w", err)}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(projectRoot, AuditFile))
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
