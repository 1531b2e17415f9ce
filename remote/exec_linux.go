package remote

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitExitAndKillGroup waits for the adapter to exit without reaping it:
// while it is a zombie its process-group id cannot be reused, so killing the
// group is safe and catches any grandchild still holding our pipes.
func waitExitAndKillGroup(pid int) {
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			break
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// killGroupAfterWait is not needed on Linux: the group was killed before
// the adapter was reaped.
func killGroupAfterWait(pid int) {}

// pipeInodes returns the inodes of the given pipe ends.
func pipeInodes(files ...*os.File) []uint64 {
	var out []uint64
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err == nil {
			out = append(out, st.Ino)
		}
	}
	return out
}

// killPipeHolders kills every other process that has one of the pipes open
// (found through /proc/<pid>/fd). Only processes that inherited our adapter's
// stdout/stderr can hold them.
func killPipeHolders(inodes []uint64) {
	want := map[string]bool{}
	for _, ino := range inodes {
		want["pipe:["+strconv.FormatUint(ino, 10)+"]"] = true
	}
	self := os.Getpid()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		fdDir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(fdDir + "/" + fd.Name()); err == nil && want[link] {
				// Our own children are never the culprit: a sibling adapter
				// being started holds copies of our close-on-exec fds until
				// its exec.
				if parentPID(pid) != self {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				break
			}
		}
	}
}

// parentPID reads the parent pid of pid from /proc/<pid>/stat (-1 if unknown).
func parentPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:]) // state ppid …
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}
