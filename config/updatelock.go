package config

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// lockPollInterval is how often LockForUpdate retries a busy project lock.
const lockPollInterval = 20 * time.Millisecond

// LockForUpdate takes the lockfile update lock of the project at root: an
// exclusive advisory lock (flock) on the project folder, held by one epack
// process at a time. Load epack.lock.yaml, change it and Save it while
// holding the lock, or two processes pinning at once (make -j, parallel CI
// steps) each write their own view and the first writer's pins are lost.
//
// It waits until the lock is free or ctx ends (errcode.Canceled). release
// gives the lock back; the end of the process does too. The lock is on the
// folder, not on epack.lock.yaml, because Save replaces that file by rename.
func LockForUpdate(ctx context.Context, root string) (release func(), err error) {
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "opening the project folder %s to lock %s", root, LockFileName)
	}
	var timer *time.Timer
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			var once bool
			return func() {
				if !once {
					once = true
					syscall.Close(fd)
				}
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			syscall.Close(fd)
			return nil, errcode.Wrap(errcode.IOError, err, "locking the project folder %s", root)
		}
		if timer == nil {
			timer = time.NewTimer(lockPollInterval)
			defer timer.Stop()
		} else {
			timer.Reset(lockPollInterval)
		}
		select {
		case <-ctx.Done():
			syscall.Close(fd)
			return nil, errcode.Wrap(errcode.Canceled, ctx.Err(), "waiting for another epack updating %s in %s", LockFileName, root).
				WithHint("wait for the other 'epack lock' or 'epack sync' to finish")
		case <-timer.C:
		}
	}
}
