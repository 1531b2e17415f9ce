package transfer

import "os"

// writeBehindChunk is how much of a file is written before its write-out to
// disk is started.
const writeBehindChunk = 16 << 20

// writeOut starts the disk write-out of a file written front to back, a
// chunk at a time, without waiting for it. The file is fsynced before it is
// used anyway; started early, that write-out overlaps the hashing that
// produces the bytes instead of following it (a 1 GiB copy's final fsync
// took about half a second on its own).
type writeOut struct {
	started int64 // bytes whose write-out was started
}

// wrote notes that f now holds end bytes and starts the write-out of what
// is not started yet once that is a chunk.
func (w *writeOut) wrote(f *os.File, end int64) {
	if end-w.started >= writeBehindChunk {
		startWriteOut(f, w.started, end-w.started)
		w.started = end
	}
}

// writeBehind writes to f, starting the write-out as it goes (writeOut).
type writeBehind struct {
	f   *os.File
	off int64 // bytes written
	out writeOut
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	w.out.wrote(w.f, w.off)
	return n, err
}
