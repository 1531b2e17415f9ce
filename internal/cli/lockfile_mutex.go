package cli

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
)

// lockProjectLockfile serialises the read-modify-write of epack.lock.yaml
// between epack processes ('epack lock' and 'epack sync' run in parallel
// would otherwise keep only the last writer's pins). It takes an exclusive
// flock on the project folder, waiting until ctx ends; unlock releases it
// (so does the end of the process).
func lockProjectLockfile(ctx context.Context, root string) (unlock func(), err error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "opening the project folder %s", root)
	}
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return nil, errcode.Wrap(errcode.IOError, err, "locking the project folder %s", root)
		}
		select {
		case <-ctx.Done():
			unix.Close(fd)
			return nil, errcode.Wrap(errcode.Canceled, ctx.Err(), "waiting for another epack updating %s", root)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
