package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/spf13/cobra"
)

// Job is the record of a detached push or pull (.epack/jobs/<id>.json).
type Job struct {
	ID          string     `json:"id"`
	Command     string     `json:"command"`
	Args        []string   `json:"args"`
	Status      string     `json:"status"` // running, completed, failed
	PID         int        `json:"pid"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	ExitCode    *int       `json:"exit_code,omitempty"`
	LogPath     string     `json:"log_path"`
	Error       string     `json:"error,omitempty"`
	Result      any        `json:"result,omitempty"`
	Dir         string     `json:"dir"`
}

// Environment variables that tell a detached child where its job record is.
const (
	envJobFile = "EPACK_JOB_FILE"
	jobTimeout = 24 * time.Hour
)

func jobsDir(base string) string { return filepath.Join(base, ".epack", "jobs") }

// jobBase is the project root, or the current directory outside a project.
func jobBase() (string, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if root, err := config.FindRoot(cwd); err == nil {
		return root, nil
	}
	return cwd, nil
}

// startDetached re-runs epack with childArgs in a new session, logging to
// .epack/jobs/<id>.log; the child updates the job record when it finishes.
func startDetached(g *Globals, command string, childArgs []string) error {
	base, err := jobBase()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "finding the project folder")
	}
	dir, err := jobsFolder(base)
	if err != nil {
		return err
	}
	defer dir.Close()
	exe, err := os.Executable()
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "finding the epack executable")
	}
	id := fmt.Sprintf("job_%s_%d", time.Now().UTC().Format("20060102_150405"), os.Getpid())
	logFile, logPath, err := dir.CreateUnique(id, ".log", jobsFilePerm)
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "creating the job log")
	}
	id = strings.TrimSuffix(filepath.Base(logPath), ".log")
	defer logFile.Close()
	jobFile := filepath.Join(dir.Path(), id+".json")
	cwd, _ := os.Getwd()
	job := &Job{ID: id, Command: command, Args: childArgs, Status: "running", StartedAt: time.Now().UTC(),
		LogPath: logFile.Name(), Dir: cwd}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, append([]string{command}, childArgs...)...)
	cmd.Dir = cwd
	cmd.Stdin = devnull
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), envJobFile+"="+jobFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := writeJob(jobFile, job); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		job.Status, job.Error = "failed", err.Error()
		_ = writeJob(jobFile, job)
		return errcode.Wrap(errcode.IOError, err, "starting the background job")
	}
	job.PID = cmd.Process.Pid
	// The child may already have finished and written its final state; only
	// record the pid if the record still says running.
	if cur, err := readJob(jobFile); err == nil && cur.Status == "running" {
		cur.PID = job.PID
		_ = writeJob(jobFile, cur)
	}
	_ = cmd.Process.Release()
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"detached": true, "job_id": id, "pid": job.PID, "log_path": job.LogPath})
		return nil
	}
	label := strings.ToUpper(command[:1]) + command[1:]
	g.out("%s started in background\n\n  Job ID: %s\n  PID:    %d\n  Log:    %s\n\nCheck status:  epack jobs %s\nFollow output: tail -f %s\n",
		label, id, job.PID, job.LogPath, id, job.LogPath)
	return nil
}

// finishJob is called by a detached child to record its final state.
func finishJob(exitCode int, runErr error, result any) {
	path := os.Getenv(envJobFile)
	if path == "" {
		return
	}
	job, err := readJob(path)
	if err != nil {
		return
	}
	now := time.Now().UTC()
	job.CompletedAt = &now
	job.ExitCode = &exitCode
	job.PID = os.Getpid()
	job.Status = "completed"
	if exitCode != 0 {
		job.Status = "failed"
	}
	if runErr != nil {
		job.Error = runErr.Error()
	}
	if result != nil {
		job.Result = result
	}
	_ = writeJob(path, job)
}

// Job records and logs hold the command's arguments, its errors and its
// result, so they are private to the user: folder 0700, files 0600.
const (
	jobsDirPerm  = 0o700
	jobsFilePerm = 0o600
)

// jobsFolder makes sure <base>/.epack/jobs exists as a real folder (no
// symbolic link on the way) with mode 0700, tightening one an older epack
// made 0755, and returns it open.
func jobsFolder(base string) (*safefile.Dir, error) {
	if _, err := safefile.MkdirAllNoFollow(base, ".epack", 0o755); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating the .epack folder")
	}
	dir, err := safefile.OpenDir(base, filepath.Join(".epack", "jobs"), true, jobsDirPerm)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating the jobs folder")
	}
	if err := dir.Chmod(jobsDirPerm); err != nil {
		dir.Close()
		return nil, errcode.Wrap(errcode.IOError, err, "making the jobs folder private").
			WithHint("run: chmod 700 %s", dir.Path())
	}
	return dir, nil
}

func writeJob(path string, job *Job) error {
	data, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteAtomic(path, append(data, '\n'), jobsFilePerm)
}

func readJob(path string) (*Job, error) {
	// O_NONBLOCK: opening a FIFO planted in the jobs folder must not block.
	f, err := safefile.OpenNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	var j Job
	if err := json.NewDecoder(f).Decode(&j); err != nil {
		return nil, err
	}
	return &j, nil
}

// jobsOptions are the arguments of 'epack jobs'.
type jobsOptions struct {
	g     *Globals
	Named bool   // a job id was given: show that one instead of the list
	ID    string // the job id
}

// newCmdJobs builds 'epack jobs'; runF runs the parsed options (nil: runJobs).
func newCmdJobs(g *Globals, runF func(context.Context, *jobsOptions) error) *cobra.Command {
	o := &jobsOptions{g: g}
	if runF == nil {
		runF = runJobs
	}
	return &cobra.Command{
		Use:   "jobs [id]",
		Short: "Show background push and pull jobs started with --detach",
		Long: `List the jobs started with 'epack push --detach' or 'epack pull --detach'
(stored in .epack/jobs/ of the project), or show one job in detail.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Named, o.ID = true, args[0]
			}
			return runF(cmd.Context(), o)
		},
	}
}

// runJobs lists the jobs, or shows the one named.
func runJobs(_ context.Context, o *jobsOptions) error {
	g := o.g
	base, err := jobBase()
	if err != nil {
		return err
	}
	dir := jobsDir(base)
	if o.Named {
		id := o.ID
		if strings.ContainsAny(id, "/\\") || strings.HasPrefix(id, ".") {
			return errcode.New(errcode.InvalidInput, "invalid job id %q", id)
		}
		job, err := readJob(filepath.Join(dir, id+".json"))
		if err != nil {
			return errcode.Wrap(errcode.InvalidInput, err, "job %q not found", id).WithHint("run 'epack jobs' to list jobs")
		}
		markStale(job)
		if g.JSON {
			writeJSON(g.IO.Out, job)
			return nil
		}
		g.out("Job %s\n  Command:  epack %s %s\n  Status:   %s\n  PID:      %d\n  Started:  %s\n",
			job.ID, job.Command, strings.Join(job.Args, " "), job.Status, job.PID, job.StartedAt.Format(time.RFC3339))
		if job.CompletedAt != nil {
			g.out("  Finished: %s\n", job.CompletedAt.Format(time.RFC3339))
		}
		if job.ExitCode != nil {
			g.out("  Exit:     %d\n", *job.ExitCode)
		}
		if job.Error != "" {
			g.out("  Error:    %s\n", adapterText(job.Error)) // may quote an adapter
		}
		g.out("  Log:      %s\n", job.LogPath)
		return nil
	}
	entries, _ := os.ReadDir(dir)
	jobs := []*Job{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || !e.Type().IsRegular() {
			continue
		}
		if j, err := readJob(filepath.Join(dir, e.Name())); err == nil {
			markStale(j)
			jobs = append(jobs, j)
		}
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].StartedAt.Before(jobs[k].StartedAt) })
	if g.JSON {
		writeJSON(g.IO.Out, map[string]any{"jobs": jobs})
		return nil
	}
	if len(jobs) == 0 {
		g.out("No jobs.\n")
		return nil
	}
	for _, j := range jobs {
		g.out("%-32s %-9s %-5s %s\n", j.ID, j.Status, j.Command, j.StartedAt.Local().Format("2006-01-02 15:04:05"))
	}
	return nil
}

// markStale reports a running job whose process is gone (or older than the
// 24 h limit) as failed, without rewriting the record.
func markStale(j *Job) {
	if j.Status != "running" {
		return
	}
	alive := j.PID > 0 && syscall.Kill(j.PID, 0) == nil
	if !alive || time.Since(j.StartedAt) > jobTimeout+time.Minute {
		j.Status = "failed"
		if j.Error == "" {
			j.Error = "the job process ended without recording a result"
		}
	}
}

// childArgs builds the argument list of a detached child.
type childArgs []string

// opt adds "--name value" when value is not empty.
func (a *childArgs) opt(name, value string) {
	if value != "" {
		*a = append(*a, name, value)
	}
}

// flag adds "--name" when on.
func (a *childArgs) flag(name string, on bool) {
	if on {
		*a = append(*a, name)
	}
}

// detach adds the policy flags and the flags every detached child gets
// (global output flags, no prompts, CI output, a JSON result for the job
// record) and starts it.
func (a childArgs) detach(g *Globals, command string, frozen, allowUnpinned bool) error {
	a.flag("--frozen", frozen)
	a.flag("--insecure-allow-unpinned", allowUnpinned)
	a.flag("--verbose", g.Verbose)
	a.flag("--no-redact", g.NoRedact)
	a = append(a, "--yes", "--ci", "--json")
	return startDetached(g, command, a)
}
