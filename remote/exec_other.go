//go:build unix && !linux

package remote

import (
	"os"
	"syscall"
)

// waitExitAndKillGroup cannot wait without reaping here (no waitid with
// WNOWAIT in package syscall); the group is killed after cmd.Wait instead,
// and a grandchild holding the pipes is cut off by cmd.WaitDelay.
func waitExitAndKillGroup(pid int) {}

// killGroupAfterWait kills anything left in the adapter's process group.
func killGroupAfterWait(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// pipeInodes is not needed where killPipeHolders cannot scan /proc.
func pipeInodes(files ...*os.File) []uint64 { return nil }

// killPipeHolders is a no-op without /proc.
func killPipeHolders(inodes []uint64) {}
