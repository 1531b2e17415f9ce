package transfer

import "os"

// writeBehindChunk is how much of a file is written before its write-out to
// disk is started.
const writeBehindChunk = 16 << 20

// writeBehind writes to f and starts the disk write-out of every chunk as
// soon as it is written, without waiting for it. The copy is fsynced before
// it is used anyway; started early, that write-out overlaps the hashing that
// produces the bytes instead of following it (a 1 GiB copy's final fsync
// took about half a second on its own).
type writeBehind struct {
	f       *os.File
	off     int64 // bytes written
	started int64 // bytes whose write-out was started
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writeBehindChunk {
		startWriteOut(w.f, w.started, w.off-w.started)
		w.started = w.off
	}
	return n, err
}
