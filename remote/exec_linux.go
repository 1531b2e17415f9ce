package remote

import (
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
